package auth

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/audit"
	"github.com/gatehouse-dev/gatehouse/shared/authz"
	"github.com/gatehouse-dev/gatehouse/shared/events"
	"github.com/gatehouse-dev/gatehouse/shared/store"
	"github.com/gatehouse-dev/gatehouse/shared/web"
)

type orgMemberJSON struct {
	UserID   string    `json:"user_id"`
	Email    string    `json:"email,omitempty"`
	Name     string    `json:"name,omitempty"`
	Role     string    `json:"role"`
	JoinedAt time.Time `json:"joined_at"`
}

// orgPage reads the paging parameters ?limit= (1-100, default 50) and the
// cursor parameter named cursor, at most 128 bytes.
func orgPage(r *http.Request, cursor string) (string, int, error) {
	q := r.URL.Query()
	limit := 50
	v := web.NewValidator()
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		v.Require(err == nil && n >= 1 && n <= 100, "limit", "must be a number from 1 to 100")
		limit = n
	}
	after := q.Get(cursor)
	v.Require(len(after) <= 128, cursor, "is too long")
	return after, limit, v.Err()
}

// orgMembers answers GET /orgs/{org}/members?after=&limit=, ordered by user id.
func (x *ext) orgMembers(w http.ResponseWriter, r *http.Request) error {
	after, limit, err := orgPage(r, "after")
	if err != nil {
		return err
	}
	ctx, orgID := r.Context(), orgMember(r).OrgID
	rows, err := x.d.Store.Members(ctx, orgID, after, limit)
	if err != nil {
		return extUnavailable(err)
	}
	out := []orgMemberJSON{}
	for _, m := range rows {
		j := orgMemberJSON{UserID: m.UserID, Role: m.Role, JoinedAt: m.CreatedAt}
		if u, err := x.d.Store.User(ctx, m.UserID); err == nil {
			j.Email, j.Name = u.Email, u.Name
		} else if !errors.Is(err, store.ErrNotFound) {
			return extUnavailable(err)
		}
		out = append(out, j)
	}
	resp := map[string]any{"members": out}
	if len(rows) == limit {
		resp["next"] = rows[len(rows)-1].UserID
	}
	return web.WriteJSON(w, http.StatusOK, resp)
}

// orgCheckRole validates a role the caller wants to give: not the owner
// role (ownership moves only by transfer), built-in or an existing custom
// role of the organization, and within the caller's own permissions.
func orgCheckRole(ctx context.Context, tx store.Orgs, actor authz.Member, role string) error {
	if role == authz.RoleOwner {
		return web.Invalid(map[string]string{"role": "cannot be owner; transfer ownership instead"})
	}
	if !authz.IsBuiltin(role) {
		if _, err := tx.OrgRole(ctx, actor.OrgID, role); errors.Is(err, store.ErrNotFound) {
			return web.Invalid(map[string]string{"role": "is not a role of this organization"})
		} else if err != nil {
			return err
		}
	}
	perms, err := authz.RolePermissions(ctx, tx, actor.OrgID, role)
	if err != nil {
		return err
	}
	if !authz.Grants(actor, perms) {
		return web.Forbidden()
	}
	return nil
}

// orgCheckTarget checks that the caller may act on member userID: the
// member exists in the organization, is not the owner, and holds nothing
// the caller does not.
func orgCheckTarget(ctx context.Context, tx store.Orgs, actor authz.Member, userID string) (store.Member, error) {
	m, err := tx.Member(ctx, actor.OrgID, userID)
	if errors.Is(err, store.ErrNotFound) {
		return m, web.NotFound()
	}
	if err != nil {
		return m, err
	}
	if m.Role == authz.RoleOwner {
		return m, web.Conflict("owner", "The owner's membership changes only by transferring ownership.")
	}
	perms, err := authz.RolePermissions(ctx, tx, actor.OrgID, m.Role)
	if err != nil {
		return m, err
	}
	if !authz.Grants(actor, perms) {
		return m, web.Forbidden()
	}
	return m, nil
}

// orgSetRole answers PATCH /orgs/{org}/members/{user} {role}.
func (x *ext) orgSetRole(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Role string `json:"role"`
	}
	if err := extDecode(r, &req, func(v *web.Validator) { v.Length("role", req.Role, 1, 32) }); err != nil {
		return err
	}
	target, ctx := r.PathValue("user"), r.Context()
	err := x.d.Store.Tx(ctx, func(tx store.Store) error {
		actor, err := orgActor(r, tx)
		if err != nil {
			return err
		}
		if err := orgCheckRole(ctx, tx, actor, req.Role); err != nil {
			return err
		}
		if _, err := orgCheckTarget(ctx, tx, actor, target); err != nil {
			return err
		}
		old, err := tx.SetMemberRole(ctx, actor.OrgID, target, req.Role, x.d.Now())
		if err != nil {
			return err
		}
		err = x.record(r, tx, audit.Event{Actor: actor.UserID, OrgID: actor.OrgID, Action: "org.member.role_change",
			Target: "user:" + target, Metadata: map[string]any{"from": old.Role, "to": req.Role}})
		if err != nil {
			return err
		}
		return x.d.Events.Emit(ctx, tx, events.Member(events.OrgMemberRoleChanged,
			events.MemberData{OrgID: actor.OrgID, UserID: target, Role: req.Role, PreviousRole: old.Role, By: "api"}))
	})
	if err != nil {
		return orgStoreError(err)
	}
	return web.WriteJSON(w, http.StatusOK, map[string]string{"user_id": target, "role": req.Role})
}

// orgRemoveMember answers DELETE /orgs/{org}/members/{user}.
func (x *ext) orgRemoveMember(w http.ResponseWriter, r *http.Request) error {
	target, ctx := r.PathValue("user"), r.Context()
	err := x.d.Store.Tx(ctx, func(tx store.Store) error {
		actor, err := orgActor(r, tx)
		if err != nil {
			return err
		}
		if _, err := orgCheckTarget(ctx, tx, actor, target); err != nil {
			return err
		}
		old, err := tx.RemoveMember(ctx, actor.OrgID, target)
		if err != nil {
			return err
		}
		ended, err := x.endSSOSessions(ctx, tx, target, actor.OrgID, x.d.Now(), "member_removed")
		if err != nil {
			return err
		}
		err = x.record(r, tx, audit.Event{Actor: actor.UserID, OrgID: actor.OrgID, Action: "org.member.remove",
			Target: "user:" + target, Metadata: map[string]any{"role": old.Role, "sessions_ended": ended}})
		if err != nil {
			return err
		}
		return x.d.Events.Emit(ctx, tx, events.Member(events.OrgMemberRemoved,
			events.MemberData{OrgID: actor.OrgID, UserID: target, Role: old.Role, By: "api"}))
	})
	if err != nil {
		return orgStoreError(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// endSSOSessions ends, in tx, userID's sessions that orgID's SSO started
// (the person leaves the organization, one way or another) and announces
// them with one session.revoked for reason when any ended. It returns how
// many ended.
func (x *ext) endSSOSessions(ctx context.Context, tx store.Store, userID, orgID string, now time.Time, reason string) (int64, error) {
	ended, err := tx.RevokeSSOSessions(ctx, userID, orgID, now, reason)
	if err != nil || ended == 0 {
		return ended, err
	}
	return ended, x.d.Events.Emit(ctx, tx, events.SessionsRevoked(events.SessionRevokedData{UserID: userID, Reason: reason}))
}

// orgTransfer answers POST /orgs/{org}/owner {user_id}: the caller (the
// owner) hands ownership to another member and becomes an admin.
func (x *ext) orgTransfer(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		UserID string `json:"user_id"`
	}
	if err := extDecode(r, &req, func(v *web.Validator) { v.Length("user_id", req.UserID, 1, 128) }); err != nil {
		return err
	}
	actor, ctx := orgMember(r), r.Context()
	err := x.d.Store.Tx(ctx, func(tx store.Store) error {
		if _, err := orgActor(r, tx); err != nil {
			return err
		}
		if err := transferOwnership(ctx, tx, x.d.Events, actor.OrgID, actor.UserID, req.UserID, "api", x.d.Now()); err != nil {
			return err
		}
		return x.record(r, tx, audit.Event{Actor: actor.UserID, OrgID: actor.OrgID, Action: "org.owner.transfer",
			Target: "user:" + req.UserID, Metadata: map[string]any{"from": actor.UserID}})
	})
	if err != nil {
		return orgStoreError(err)
	}
	return web.WriteJSON(w, http.StatusOK, map[string]string{"owner": req.UserID})
}

// transferOwnership makes to, a member of orgID, its owner and from, the
// owner, an admin, in tx, and announces both role changes
// (org.member.role_changed, by by). Errors are TransferOwnership's, and
// ErrNotFound if to is not a member.
func transferOwnership(ctx context.Context, tx store.Store, ev *events.Emitter, orgID, from, to, by string, now time.Time) error {
	m, err := tx.LockMember(ctx, orgID, to)
	if err != nil {
		return err
	}
	if err := tx.TransferOwnership(ctx, orgID, from, to, now); err != nil {
		return err
	}
	for _, d := range []events.MemberData{
		{OrgID: orgID, UserID: to, Role: store.RoleOwner, PreviousRole: m.Role, By: by},
		{OrgID: orgID, UserID: from, Role: "admin", PreviousRole: store.RoleOwner, By: by},
	} {
		if err := ev.Emit(ctx, tx, events.Member(events.OrgMemberRoleChanged, d)); err != nil {
			return err
		}
	}
	return nil
}

// orgStoreError maps the store's refusals to responses.
func orgStoreError(err error) error {
	var we *web.Error
	switch {
	case errors.As(err, &we):
		return err
	case errors.Is(err, store.ErrOwner):
		return web.Conflict("owner", "The organization must keep exactly one owner; transfer ownership instead.")
	case errors.Is(err, store.ErrNotFound):
		return web.NotFound()
	case errors.Is(err, store.ErrConflict):
		return web.Conflict("conflict", "The change conflicts with the current state.")
	}
	return extUnavailable(err)
}
