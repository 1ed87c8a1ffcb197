package auth

import (
	"encoding/base32"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
	"unicode"

	"github.com/gatehouse-dev/gatehouse/shared/audit"
	"github.com/gatehouse-dev/gatehouse/shared/authz"
	"github.com/gatehouse-dev/gatehouse/shared/ratelimit"
	"github.com/gatehouse-dev/gatehouse/shared/store"
	"github.com/gatehouse-dev/gatehouse/shared/web"
)

// Limits on what one user or organization can create.
var (
	orgCreateLimit = ratelimit.OrgCreateUser
	orgMaxRoles    = 50
)

// registerOrgs adds the organization routes. Every route under
// /orgs/{org} passes authz.Require for its permission first; changes to
// members, roles and ownership also need a recent authentication (AUTH-12)
// and are audit-logged in the transaction that makes them (AUTHZ-4).
func (x *ext) registerOrgs(mux *http.ServeMux) {
	mux.Handle("POST /orgs", x.authed(x.orgCreate))
	mux.Handle("GET /orgs", x.authed(x.orgList))
	mux.Handle("GET /orgs/{org}/members", x.orgRoute(authz.PermRead, x.orgMembers))
	mux.Handle("POST /orgs/{org}/invitations", x.orgRoute(authz.PermMembersManage, x.stepUp(x.orgInvite)))
	mux.Handle("GET /orgs/{org}/invitations", x.orgRoute(authz.PermMembersManage, x.orgInvitations))
	mux.Handle("DELETE /orgs/{org}/invitations/{id}", x.orgRoute(authz.PermMembersManage, x.orgRevokeInvitation))
	mux.Handle("POST /invitations/accept", x.authed(x.orgAcceptInvitation))
	mux.Handle("PATCH /orgs/{org}/members/{user}", x.orgRoute(authz.PermMembersManage, x.stepUp(x.orgSetRole)))
	mux.Handle("DELETE /orgs/{org}/members/{user}", x.orgRoute(authz.PermMembersManage, x.stepUp(x.orgRemoveMember)))
	mux.Handle("POST /orgs/{org}/owner", x.orgRoute(authz.PermOwnershipTransfer, x.stepUp(x.orgTransfer)))
	mux.Handle("DELETE /orgs/{org}", x.orgRoute(authz.PermOrgDelete, x.stepUp(x.orgDelete)))
	mux.Handle("POST /orgs/{org}/leave", x.orgRoute(authz.PermRead, x.orgLeave))
	mux.Handle("GET /orgs/{org}/roles", x.orgRoute(authz.PermRead, x.orgRoles))
	mux.Handle("POST /orgs/{org}/roles", x.orgRoute(authz.PermMembersManage, x.stepUp(x.orgCreateRole)))
	mux.Handle("PATCH /orgs/{org}/roles/{name}", x.orgRoute(authz.PermMembersManage, x.stepUp(x.orgUpdateRole)))
	mux.Handle("DELETE /orgs/{org}/roles/{name}", x.orgRoute(authz.PermMembersManage, x.stepUp(x.orgDeleteRole)))
	mux.Handle("GET /orgs/{org}/audit", x.orgRoute(authz.PermAuditRead, x.orgAudit))
	mux.Handle("GET /orgs/{org}/audit/{seq}/proof", x.orgRoute(authz.PermAuditRead, x.orgAuditProof))
	mux.Handle("GET /audit/checkpoint", x.handle(x.auditCheckpoint))
	mux.Handle("GET /audit/consistency", x.handle(x.auditConsistency))
	mux.Handle("GET /audit/public-key", x.handle(x.auditPublicKey))
}

// orgMember is the caller's membership that authz.Require checked.
func orgMember(r *http.Request) authz.Member {
	m, _ := authz.MemberFrom(r.Context())
	return m
}

// orgActor re-checks the caller's membership inside tx, the transaction
// of a state change, with the organization locked until it commits
// (authz.Recheck), and returns it as it is now: a demotion that committed
// since authz.Require ran is seen, and one that comes later waits.
func orgActor(r *http.Request, tx store.Orgs) (authz.Member, error) {
	return authz.Recheck(r.Context(), tx, orgMember(r))
}

type orgJSON struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Role      string    `json:"role"`
	CreatedAt time.Time `json:"created_at"`
}

// orgCreate answers POST /orgs {name}: a new organization whose creator is
// its owner.
func (x *ext) orgCreate(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Name string `json:"name"`
	}
	if err := extDecode(r, &req, func(v *web.Validator) {
		v.Length("name", req.Name, 1, 100)
		v.Require(strings.TrimSpace(req.Name) == req.Name && !strings.ContainsFunc(req.Name, unicode.IsControl),
			"name", "must not start or end with spaces or hold control characters")
	}); err != nil {
		return err
	}
	userID := extUserID(r)
	if err := x.allowKey(r, orgCreateLimit, userID); err != nil {
		return err
	}
	id, err := orgNewID(x.d.Rand, "org_")
	if err != nil {
		return err
	}
	o := store.Org{ID: id, Name: req.Name, CreatedAt: x.d.Now()}
	err = x.d.Store.Tx(r.Context(), func(tx store.Store) error {
		if err := tx.CreateOrg(r.Context(), o, userID); err != nil {
			return err
		}
		return x.record(r, tx, audit.Event{Actor: userID, OrgID: id, Action: "org.create", Target: "org:" + id})
	})
	if err != nil {
		return extUnavailable(err)
	}
	return web.WriteJSON(w, http.StatusCreated, orgJSON{ID: o.ID, Name: o.Name, Role: authz.RoleOwner, CreatedAt: o.CreatedAt})
}

// orgList answers GET /orgs: the caller's organizations and roles.
func (x *ext) orgList(w http.ResponseWriter, r *http.Request) error {
	orgs, err := x.d.Store.UserOrgs(r.Context(), extUserID(r))
	if err != nil {
		return extUnavailable(err)
	}
	out := []orgJSON{}
	for _, o := range orgs {
		out = append(out, orgJSON{ID: o.ID, Name: o.Name, Role: o.Role, CreatedAt: o.CreatedAt})
	}
	return web.WriteJSON(w, http.StatusOK, map[string]any{"orgs": out})
}

type orgRoleJSON struct {
	Name        string             `json:"name"`
	Builtin     bool               `json:"builtin"`
	Permissions []authz.Permission `json:"permissions"`
}

// orgRoles answers GET /orgs/{org}/roles: built-in and custom roles.
func (x *ext) orgRoles(w http.ResponseWriter, r *http.Request) error {
	m := orgMember(r)
	out := []orgRoleJSON{}
	for _, name := range authz.BuiltinRoles() {
		perms, _ := authz.BuiltinPermissions(name)
		out = append(out, orgRoleJSON{Name: name, Builtin: true, Permissions: perms})
	}
	custom, err := x.d.Store.OrgRoles(r.Context(), m.OrgID)
	if err != nil {
		return extUnavailable(err)
	}
	for _, c := range custom {
		perms, err := authz.RolePermissions(r.Context(), x.d.Store, m.OrgID, c.Name)
		if err != nil {
			return extUnavailable(err)
		}
		out = append(out, orgRoleJSON{Name: c.Name, Permissions: append([]authz.Permission{}, perms...)})
	}
	return web.WriteJSON(w, http.StatusOK, map[string]any{"roles": out})
}

// orgCreateRole answers POST /orgs/{org}/roles {name, permissions}: a
// custom role, holding no more than the caller holds and nothing owner-only.
func (x *ext) orgCreateRole(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Name        string   `json:"name"`
		Permissions []string `json:"permissions"`
	}
	var perms []authz.Permission
	if err := extDecode(r, &req, func(v *web.Validator) {
		v.Require(authz.ValidCustomRoleName(req.Name), "name",
			"must be 2-32 characters of a-z, 0-9, '_' or '-', start with a letter, and not name a built-in role")
		perms = orgParsePermissions(v, req.Permissions)
	}); err != nil {
		return err
	}
	m := orgMember(r)
	role := store.OrgRole{OrgID: m.OrgID, Name: req.Name, CreatedAt: x.d.Now()}
	err := x.d.Store.Tx(r.Context(), func(tx store.Store) error {
		actor, err := orgActor(r, tx)
		if err != nil {
			return err
		}
		if role.Permissions, err = orgGrantable(actor, perms); err != nil {
			return err
		}
		if existing, err := tx.OrgRoles(r.Context(), m.OrgID); err != nil {
			return err
		} else if len(existing) >= orgMaxRoles {
			return web.Conflict("too_many_roles", "The organization has the maximum number of custom roles.")
		}
		if err := tx.CreateOrgRole(r.Context(), role); err != nil {
			return err
		}
		return x.record(r, tx, audit.Event{Actor: m.UserID, OrgID: m.OrgID, Action: "org.role.create",
			Target: "role:" + req.Name, Metadata: map[string]any{"permissions": role.Permissions}})
	})
	if errors.Is(err, store.ErrConflict) {
		return web.Conflict("role_exists", "A role with this name exists.")
	}
	if err != nil {
		return extUnavailable(err)
	}
	return web.WriteJSON(w, http.StatusCreated, orgRoleJSON{Name: role.Name, Permissions: perms})
}

// allowKey spends one request of limit for key.
func (x *ext) allowKey(r *http.Request, limit ratelimit.Limit, key string) error {
	err := x.d.Limiter.Allow(r.Context(), limit, key)
	var limited *ratelimit.LimitedError
	switch {
	case errors.As(err, &limited):
		return web.TooManyRequests(limited.RetryAfter)
	case err != nil:
		return web.Unavailable(err)
	}
	return nil
}

var orgIDEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// orgNewID returns prefix and 16 random bytes in lowercase base32.
func orgNewID(rand io.Reader, prefix string) (string, error) {
	var b [16]byte
	if _, err := io.ReadFull(rand, b[:]); err != nil {
		return "", fmt.Errorf("generate id: %w", err)
	}
	return prefix + strings.ToLower(orgIDEncoding.EncodeToString(b[:])), nil
}
