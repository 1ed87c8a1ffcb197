package auth

import (
	"context"
	"errors"
	"net/http"

	"github.com/gatehouse-dev/gatehouse/shared/audit"
	"github.com/gatehouse-dev/gatehouse/shared/authz"
	"github.com/gatehouse-dev/gatehouse/shared/events"
	"github.com/gatehouse-dev/gatehouse/shared/store"
	"github.com/gatehouse-dev/gatehouse/shared/web"
)

// orgDelete answers DELETE /orgs/{org} {confirm}: the owner, recently
// authenticated, deletes the organization. confirm must be its name, so a
// request aimed at the wrong id deletes nothing. Members, custom roles,
// OAuth connections (with their sealed tokens) and the SSO configuration
// go in the transaction that records org.delete, and every session the
// organization's SSO started ends; billing records and audit events stay
// for their retention. Pending invitations are deleted too. Each member
// and live connection is announced as gone (org.member.removed,
// connection.revoked) in the same transaction.
func (x *ext) orgDelete(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Confirm string `json:"confirm"`
	}
	if err := extDecode(r, &req, func(v *web.Validator) { v.Length("confirm", req.Confirm, 1, 100) }); err != nil {
		return err
	}
	actor, ctx := orgMember(r), r.Context()
	err := x.d.Store.Tx(ctx, func(tx store.Store) error {
		if _, err := orgActor(r, tx); err != nil {
			return err
		}
		org, err := tx.Org(ctx, actor.OrgID)
		if err != nil {
			return err
		}
		if req.Confirm != org.Name {
			return web.Invalid(map[string]string{"confirm": "must be the organization's name"})
		}
		// The organization's identity provider no longer vouches for
		// anyone: the sessions it started end with it (before the
		// memberships go, which attribute the unattributed ones).
		ended, err := tx.RevokeOrgSSOSessions(ctx, actor.OrgID, x.d.Now(), "org_deleted")
		if err != nil {
			return err
		}
		members, err := allMembers(ctx, tx, actor.OrgID)
		if err != nil {
			return err
		}
		conns, err := tx.ListConnections(ctx, actor.OrgID)
		if err != nil {
			return err
		}
		gone, err := tx.DeleteOrg(ctx, actor.OrgID, actor.UserID)
		if err != nil {
			return err
		}
		err = x.record(r, tx, audit.Event{Actor: actor.UserID, OrgID: actor.OrgID, Action: "org.delete",
			Target: "org:" + actor.OrgID, Metadata: map[string]any{"name": org.Name, "members": gone.Members,
				"roles": gone.Roles, "connections": gone.Connections, "invitations": gone.Tokens, "sso": gone.SSO,
				"sso_domains": gone.Domains, "sso_session_users": len(ended)}})
		if err != nil {
			return err
		}
		for _, userID := range ended {
			err := x.d.Events.Emit(ctx, tx, events.SessionsRevoked(events.SessionRevokedData{UserID: userID, Reason: "org_deleted"}))
			if err != nil {
				return err
			}
		}
		return x.emitOrgDeleted(ctx, tx, actor.UserID, members, conns)
	})
	if errors.Is(err, store.ErrOwner) {
		// A transfer committed after authz checked the caller.
		return web.Forbidden().WithCause(err)
	}
	if err != nil {
		return orgStoreError(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// orgLeave answers POST /orgs/{org}/leave: the caller gives up their own
// membership, and their sessions from the organization's SSO end (the
// one making this request too, if it is one). The owner cannot leave;
// they transfer ownership or delete the organization.
func (x *ext) orgLeave(w http.ResponseWriter, r *http.Request) error {
	actor, ctx := orgMember(r), r.Context()
	if actor.Role == authz.RoleOwner {
		return web.Conflict("owner", "The owner cannot leave; transfer ownership or delete the organization.")
	}
	err := x.d.Store.Tx(ctx, func(tx store.Store) error {
		old, err := tx.RemoveMember(ctx, actor.OrgID, actor.UserID)
		if err != nil {
			return err
		}
		// As when an owner removes a member: the sessions the
		// organization's SSO started end, the caller's other ones stay.
		ended, err := x.endSSOSessions(ctx, tx, actor.UserID, actor.OrgID, x.d.Now(), "member_left")
		if err != nil {
			return err
		}
		err = x.record(r, tx, audit.Event{Actor: actor.UserID, OrgID: actor.OrgID, Action: "org.member.leave",
			Target: "user:" + actor.UserID, Metadata: map[string]any{"role": old.Role, "sessions_ended": ended}})
		if err != nil {
			return err
		}
		return x.d.Events.Emit(ctx, tx, events.Member(events.OrgMemberRemoved,
			events.MemberData{OrgID: actor.OrgID, UserID: actor.UserID, Role: old.Role, By: "user"}))
	})
	if errors.Is(err, store.ErrOwner) {
		return web.Conflict("owner", "The owner cannot leave; transfer ownership or delete the organization.")
	}
	if err != nil {
		return orgStoreError(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// emitOrgDeleted announces, in the deletion's transaction, that each
// member left the organization (org.member.removed) and each connection
// that was not revoked already ended with it (connection.revoked,
// org_deleted).
func (x *ext) emitOrgDeleted(ctx context.Context, tx store.Store, by string, members []store.Member, conns []store.Connection) error {
	for _, m := range members {
		err := x.d.Events.Emit(ctx, tx, events.Member(events.OrgMemberRemoved,
			events.MemberData{OrgID: m.OrgID, UserID: m.UserID, Role: m.Role, By: "api"}))
		if err != nil {
			return err
		}
	}
	for _, c := range conns {
		if c.Status == store.ConnectionRevoked {
			continue
		}
		err := x.d.Events.Emit(ctx, tx, events.Connection(events.ConnectionRevoked,
			events.ConnectionData{ConnectionID: c.ID, UserID: by, OrgID: c.OrgID, Provider: c.Platform, Reason: "org_deleted"}))
		if err != nil {
			return err
		}
	}
	return nil
}

// allMembers returns every member of orgID, page by page, in tx.
func allMembers(ctx context.Context, tx store.Store, orgID string) ([]store.Member, error) {
	const page = 500
	var all []store.Member
	after := ""
	for {
		ms, err := tx.Members(ctx, orgID, after, page)
		if err != nil {
			return nil, err
		}
		all = append(all, ms...)
		if len(ms) < page {
			return all, nil
		}
		after = ms[len(ms)-1].UserID
	}
}
