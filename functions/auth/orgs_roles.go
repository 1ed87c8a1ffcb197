package auth

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/gatehouse-dev/gatehouse/shared/audit"
	"github.com/gatehouse-dev/gatehouse/shared/authz"
	"github.com/gatehouse-dev/gatehouse/shared/store"
	"github.com/gatehouse-dev/gatehouse/shared/web"
)

// orgParsePermissions checks a custom role's permission list in v.
func orgParsePermissions(v *web.Validator, raw []string) []authz.Permission {
	perms, err := authz.ParseCustomPermissions(raw)
	v.Require(err == nil && len(raw) <= 16, "permissions", fmt.Sprint(err))
	return perms
}

// orgGrantable returns the names of perms if actor holds every one of
// them (no one hands out more than they hold), else a 403.
func orgGrantable(actor authz.Member, perms []authz.Permission) ([]string, error) {
	if !authz.Grants(actor, perms) {
		return nil, web.Forbidden()
	}
	names := make([]string, len(perms))
	for i, p := range perms {
		names[i] = string(p)
	}
	return names, nil
}

// orgRoleTarget reads the custom role named in the path for a change by
// actor, who must hold every permission it grants (no escalation: editing
// or deleting a role changes what its holders can do).
func orgRoleTarget(r *http.Request, tx store.Orgs, actor authz.Member) (store.OrgRole, error) {
	name := r.PathValue("name")
	if authz.IsBuiltin(name) {
		return store.OrgRole{}, web.BadRequest("builtin_role", "Built-in roles cannot be changed.")
	}
	role, err := tx.OrgRole(r.Context(), actor.OrgID, name)
	if err != nil {
		return role, err
	}
	perms, err := authz.RolePermissions(r.Context(), tx, actor.OrgID, name)
	if err != nil {
		return role, err
	}
	if !authz.Grants(actor, perms) {
		return role, web.Forbidden()
	}
	return role, nil
}

// orgUpdateRole answers PATCH /orgs/{org}/roles/{name} {permissions}: the
// custom role's permissions are replaced; its holders have the new set
// with their next request.
func (x *ext) orgUpdateRole(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Permissions []string `json:"permissions"`
	}
	var perms []authz.Permission
	if err := extDecode(r, &req, func(v *web.Validator) { perms = orgParsePermissions(v, req.Permissions) }); err != nil {
		return err
	}
	err := x.d.Store.Tx(r.Context(), func(tx store.Store) error {
		actor, err := orgActor(r, tx)
		if err != nil {
			return err
		}
		names, err := orgGrantable(actor, perms)
		if err != nil {
			return err
		}
		role, err := orgRoleTarget(r, tx, actor)
		if err != nil {
			return err
		}
		if _, err := tx.SetOrgRolePermissions(r.Context(), actor.OrgID, role.Name, names); err != nil {
			return err
		}
		return x.record(r, tx, audit.Event{Actor: actor.UserID, OrgID: actor.OrgID, Action: "org.role.update",
			Target: "role:" + role.Name, Metadata: map[string]any{"from": role.Permissions, "to": names}})
	})
	if err != nil {
		return orgStoreError(err)
	}
	return web.WriteJSON(w, http.StatusOK, orgRoleJSON{Name: r.PathValue("name"), Permissions: perms})
}

// orgDeleteRole answers DELETE /orgs/{org}/roles/{name}: refused (409
// role_in_use) while a member holds the role or SSO provisions it.
func (x *ext) orgDeleteRole(w http.ResponseWriter, r *http.Request) error {
	err := x.d.Store.Tx(r.Context(), func(tx store.Store) error {
		actor, err := orgActor(r, tx)
		if err != nil {
			return err
		}
		role, err := orgRoleTarget(r, tx, actor)
		if err != nil {
			return err
		}
		if _, err := tx.DeleteOrgRole(r.Context(), actor.OrgID, role.Name); err != nil {
			return err
		}
		return x.record(r, tx, audit.Event{Actor: actor.UserID, OrgID: actor.OrgID, Action: "org.role.delete",
			Target: "role:" + role.Name, Metadata: map[string]any{"permissions": role.Permissions}})
	})
	if errors.Is(err, store.ErrConflict) {
		return web.Conflict("role_in_use", "Members hold this role or SSO provisions it; give them another role first.")
	}
	if err != nil {
		return orgStoreError(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
