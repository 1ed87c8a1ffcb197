package auth

import (
	"context"
	"errors"
	"fmt"

	"github.com/gatehouse-dev/gatehouse/shared/audit"
	"github.com/gatehouse-dev/gatehouse/shared/events"
	"github.com/gatehouse-dev/gatehouse/shared/store"
	"github.com/gatehouse-dev/gatehouse/shared/web"
)

// Export implements UserData: the user's organizations and roles, and
// which second factors they have (never a secret, code or key).
func (x *ext) Export(ctx context.Context, userID string) (map[string]any, error) {
	orgs, err := x.d.Store.UserOrgs(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("export organizations: %w", err)
	}
	memberships := []map[string]any{}
	for _, o := range orgs {
		memberships = append(memberships, map[string]any{"org_id": o.ID, "name": o.Name, "role": o.Role})
	}
	methods, err := x.mfa.Methods(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("export mfa: %w", err)
	}
	creds, err := x.d.Store.WebAuthnCredentials(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("export passkeys: %w", err)
	}
	passkeys := []map[string]any{}
	for _, c := range creds {
		p := map[string]any{"id": c.ID, "transports": c.Transports, "created_at": c.CreatedAt}
		if !c.LastUsedAt.IsZero() {
			p["last_used_at"] = c.LastUsedAt
		}
		passkeys = append(passkeys, p)
	}
	return map[string]any{"organizations": memberships,
		"mfa": map[string]any{"methods": append([]string{}, methods...), "passkeys": passkeys}}, nil
}

// BeforeDelete implements UserData: inside the account deletion's
// transaction it refuses (409 sole_owner) while the user owns an
// organization, else removes the memberships, audited per organization
// (AUTHZ-4), and every second factor.
func (x *ext) BeforeDelete(ctx context.Context, tx store.Store, userID, by string) error {
	orgs, err := tx.UserOrgs(ctx, userID)
	if err != nil {
		return err
	}
	if _, err := tx.DeleteUserMemberships(ctx, userID); errors.Is(err, store.ErrOwner) {
		return web.Conflict("sole_owner", "Transfer ownership of your organizations, or delete them, before deleting your account.")
	} else if err != nil {
		return err
	}
	for _, o := range orgs {
		if _, err := x.d.Audit.RecordTx(ctx, tx, audit.Event{Actor: userID, OrgID: o.ID, Action: "org.member.remove",
			Target: "user:" + userID, Metadata: map[string]any{"role": o.Role, "reason": "account_deleted"}}); err != nil {
			return err
		}
		if err := x.d.Events.Emit(ctx, tx, events.Member(events.OrgMemberRemoved,
			events.MemberData{OrgID: o.ID, UserID: userID, Role: o.Role, By: by})); err != nil {
			return err
		}
	}
	return tx.DeleteUserMFA(ctx, userID)
}
