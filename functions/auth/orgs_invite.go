package auth

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/audit"
	"github.com/gatehouse-dev/gatehouse/shared/authz"
	"github.com/gatehouse-dev/gatehouse/shared/events"
	"github.com/gatehouse-dev/gatehouse/shared/notify"
	"github.com/gatehouse-dev/gatehouse/shared/ratelimit"
	"github.com/gatehouse-dev/gatehouse/shared/store"
	"github.com/gatehouse-dev/gatehouse/shared/timetext"
	"github.com/gatehouse-dev/gatehouse/shared/web"
)

// orgInvitationPurpose is the one-time token purpose of invitations; the
// token's subject is the invited address (lower case).
const orgInvitationPurpose = "org_invitation"

// orgInviteLimit bounds the invitations one organization sends.
var orgInviteLimit = ratelimit.OrgInvite

// orgInvitation is the token's data: no secret, only what accepting needs.
type orgInvitation struct {
	ID        string `json:"id"` // a prefix of the token hash, to correlate audit events
	OrgID     string `json:"org_id"`
	Role      string `json:"role"`
	InvitedBy string `json:"invited_by"`
}

// orgInvite answers POST /orgs/{org}/invitations {email, role}: a
// single-use invitation link goes to the address. The token is only in the
// message, never in the response, and only its hash is stored.
func (x *ext) orgInvite(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Email string `json:"email"`
		Role  string `json:"role"`
	}
	if err := extDecode(r, &req, func(v *web.Validator) {
		v.Email("email", req.Email)
		v.Length("role", req.Role, 1, 32)
	}); err != nil {
		return err
	}
	actor, ctx := orgMember(r), r.Context()
	if err := x.allowKey(r, orgInviteLimit, actor.OrgID); err != nil {
		return err
	}
	tok, hash, err := orgInvitationToken(x.d.Rand)
	if err != nil {
		return err
	}
	email, now := strings.ToLower(req.Email), x.d.Now()
	inv := orgInvitation{ID: hex.EncodeToString(hash[:8]), OrgID: actor.OrgID, Role: req.Role, InvitedBy: actor.UserID}
	data, _ := json.Marshal(inv) // strings only: cannot fail
	var org store.Org
	err = x.d.Store.Tx(ctx, func(tx store.Store) error {
		actor, err := orgActor(r, tx)
		if err != nil {
			return err
		}
		if err := orgCheckRole(ctx, tx, actor, req.Role); err != nil {
			return err
		}
		if org, err = tx.Org(ctx, actor.OrgID); err != nil {
			return err
		}
		if err := tx.CreateOneTimeToken(ctx, store.OneTimeToken{Hash: hash, Purpose: orgInvitationPurpose, Subject: email,
			Scope: actor.OrgID, Data: string(data), CreatedAt: now, ExpiresAt: now.Add(x.cfg.InvitationTTL)}); err != nil {
			return err
		}
		return x.record(r, tx, audit.Event{Actor: actor.UserID, OrgID: actor.OrgID, Action: "org.invitation.create",
			Target: "invitation:" + inv.ID, Metadata: map[string]any{"role": req.Role}})
	})
	if err != nil {
		return orgStoreError(err)
	}
	link := x.cfg.InvitationURL + "#token=" + tok
	msg := notify.Message{To: email, Kind: notify.KindInvitation, Subject: "You are invited to an organization",
		Text: fmt.Sprintf("You were invited to join %q as %s. Accept within %s:\n\n%s\n", org.Name, req.Role,
			timetext.Duration(x.cfg.InvitationTTL), link), Links: []string{link}, OrgID: actor.OrgID}
	if err := x.d.Notifier.Notify(ctx, msg); err != nil {
		return web.Unavailable(fmt.Errorf("send invitation: %w", err))
	}
	return web.WriteJSON(w, http.StatusCreated, map[string]any{"invitation_id": inv.ID, "email": email,
		"role": req.Role, "expires_at": now.Add(x.cfg.InvitationTTL)})
}

// orgInvitationToken returns a new token and its SHA-256.
func orgInvitationToken(rand io.Reader) (string, [32]byte, error) {
	var b [32]byte
	if _, err := io.ReadFull(rand, b[:]); err != nil {
		return "", [32]byte{}, fmt.Errorf("generate invitation token: %w", err)
	}
	tok := base64.RawURLEncoding.EncodeToString(b[:])
	return tok, sha256.Sum256([]byte(tok)), nil
}

var orgInvalidInvitation = web.BadRequest("invalid_invitation", "The invitation is invalid, expired or already used.")

// orgInviterGone answers an invitation whose inviter no longer holds what
// sending it took; the invitation stays pending (a new one is needed).
var orgInviterGone = &web.Error{Status: http.StatusForbidden, Code: "inviter_not_permitted",
	Message: "The person who invited you can no longer grant this role; ask for a new invitation."}

// orgAcceptInvitation answers POST /invitations/accept {token}: the
// signed-in user, whose address must be the invited one, joins with the
// invited role. The token is consumed in the same transaction as the
// membership is added, so it is spent only if the user joins.
func (x *ext) orgAcceptInvitation(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Token string `json:"token"`
	}
	if err := extDecode(r, &req, func(v *web.Validator) { v.Length("token", req.Token, 1, 128) }); err != nil {
		return err
	}
	userID, ctx := extUserID(r), r.Context()
	var inv orgInvitation
	err := x.d.Store.Tx(ctx, func(tx store.Store) error {
		tok, err := tx.ConsumeOneTimeToken(ctx, orgInvitationPurpose, sha256.Sum256([]byte(req.Token)), x.d.Now())
		if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrUsed) || errors.Is(err, store.ErrExpired) {
			return orgInvalidInvitation
		} else if err != nil {
			return err
		}
		if err := json.Unmarshal([]byte(tok.Data), &inv); err != nil {
			return fmt.Errorf("decode invitation: %w", err)
		}
		u, err := tx.User(ctx, userID)
		if err != nil {
			return err
		}
		if !strings.EqualFold(u.Email, tok.Subject) || u.EmailVerifiedAt.IsZero() {
			return &web.Error{Status: http.StatusForbidden, Code: "invitation_email_mismatch",
				Message: "Sign in with the verified address the invitation was sent to."}
		}
		return x.orgJoin(r, tx, userID, inv)
	})
	if errors.Is(err, store.ErrConflict) {
		return web.Conflict("already_member", "You are already a member of this organization.")
	}
	if err != nil {
		return orgStoreError(err)
	}
	return web.WriteJSON(w, http.StatusOK, map[string]string{"org_id": inv.OrgID, "role": inv.Role})
}

// orgJoin adds userID with the invitation's role and audits it, once the
// inviter is found to still hold, now, what inviting with that role needs
// (members.manage and every permission of the role): an invitation sent by
// an admin who has since been demoted or removed gives nothing.
func (x *ext) orgJoin(r *http.Request, tx store.Store, userID string, inv orgInvitation) error {
	ctx := r.Context()
	if !authz.IsBuiltin(inv.Role) {
		if _, err := tx.OrgRole(ctx, inv.OrgID, inv.Role); errors.Is(err, store.ErrNotFound) {
			return orgInvalidInvitation
		} else if err != nil {
			return err
		}
	}
	inviter, err := authz.Recheck(ctx, tx, authz.Member{UserID: inv.InvitedBy, OrgID: inv.OrgID, Checked: authz.PermMembersManage})
	if err == nil {
		err = orgCheckRole(ctx, tx, inviter, inv.Role)
	}
	var refused *web.Error
	if errors.As(err, &refused) {
		return orgInviterGone.WithCause(err)
	} else if err != nil {
		return err
	}
	err = tx.AddMember(ctx, store.Member{OrgID: inv.OrgID, UserID: userID, Role: inv.Role, CreatedAt: x.d.Now()})
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrOwner) {
		return orgInvalidInvitation
	} else if err != nil {
		return err
	}
	err = x.record(r, tx, audit.Event{Actor: userID, OrgID: inv.OrgID, Action: "org.member.add",
		Target: "user:" + userID, Metadata: map[string]any{"role": inv.Role, "invited_by": inv.InvitedBy,
			"invitation": inv.ID}})
	if err != nil {
		return err
	}
	return x.d.Events.Emit(ctx, tx, events.Member(events.OrgMemberAdded,
		events.MemberData{OrgID: inv.OrgID, UserID: userID, Role: inv.Role, By: "api"}))
}

type orgInvitationJSON struct {
	ID        string    `json:"id"`
	Email     string    `json:"email"`
	Role      string    `json:"role"`
	InvitedBy string    `json:"invited_by"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

// orgInvitations answers GET /orgs/{org}/invitations: the pending ones
// (neither accepted nor expired), oldest first. Never the token: only its
// hash is stored.
func (x *ext) orgInvitations(w http.ResponseWriter, r *http.Request) error {
	actor := orgMember(r)
	toks, err := x.d.Store.PendingOneTimeTokens(r.Context(), orgInvitationPurpose, actor.OrgID, x.d.Now())
	if err != nil {
		return extUnavailable(err)
	}
	out := make([]orgInvitationJSON, 0, len(toks))
	for _, tok := range toks {
		var inv orgInvitation
		if err := json.Unmarshal([]byte(tok.Data), &inv); err != nil {
			return extUnavailable(fmt.Errorf("decode invitation: %w", err))
		}
		out = append(out, orgInvitationJSON{ID: inv.ID, Email: tok.Subject, Role: inv.Role, InvitedBy: inv.InvitedBy,
			CreatedAt: tok.CreatedAt, ExpiresAt: tok.ExpiresAt})
	}
	return web.WriteJSON(w, http.StatusOK, map[string]any{"invitations": out})
}

// orgRevokeInvitation answers DELETE /orgs/{org}/invitations/{id}: the
// pending invitation can no longer be accepted.
func (x *ext) orgRevokeInvitation(w http.ResponseWriter, r *http.Request) error {
	actor, ctx, id := orgMember(r), r.Context(), r.PathValue("id")
	err := x.d.Store.Tx(ctx, func(tx store.Store) error {
		if _, err := orgActor(r, tx); err != nil {
			return err
		}
		toks, err := tx.PendingOneTimeTokens(ctx, orgInvitationPurpose, actor.OrgID, x.d.Now())
		if err != nil {
			return err
		}
		for _, tok := range toks {
			if hex.EncodeToString(tok.Hash[:8]) != id {
				continue
			}
			if err := tx.RevokeOneTimeToken(ctx, orgInvitationPurpose, actor.OrgID, tok.Hash); err != nil {
				return err
			}
			return x.record(r, tx, audit.Event{Actor: actor.UserID, OrgID: actor.OrgID, Action: "org.invitation.revoke",
				Target: "invitation:" + id})
		}
		return web.NotFound()
	})
	if err != nil {
		return orgStoreError(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
