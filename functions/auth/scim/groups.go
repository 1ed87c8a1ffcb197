package scim

import (
	"errors"
	"net/http"
	"slices"

	"github.com/elimity-com/scim"
	scimerrors "github.com/elimity-com/scim/errors"
	filter "github.com/scim2/filter-parser/v2"

	"github.com/gatehouse-dev/gatehouse/shared/authz"
	"github.com/gatehouse-dev/gatehouse/shared/events"
	"github.com/gatehouse-dev/gatehouse/shared/store"
)

// groups is the /Groups resource: the organization's roles (built-in ones
// other than owner, and custom ones), whose members are the provisioned
// users holding the role. Group membership sets the role; roles are
// created and deleted in Gatehouse, not through SCIM. Removing a member
// from a group gives them the viewer role.
type groups struct{ s *Service }

var errRolesFixed = scimerrors.ScimError{ScimType: scimerrors.ScimTypeMutability, Status: http.StatusBadRequest,
	Detail: "Groups are the organization's roles: create and delete roles in Gatehouse, and link the identity provider's groups to them."}

// Create implements scim.ResourceHandler: a group is linked, never
// created. A role's name is taken; any other name is refused.
func (h *groups) Create(r *http.Request, attrs scim.ResourceAttributes) (scim.Resource, error) {
	name, _ := attrs["displayName"].(string)
	roles, err := h.s.roles(r)
	if err != nil {
		return scim.Resource{}, err
	}
	if slices.Contains(roles, name) {
		return scim.Resource{}, scimerrors.ScimError{ScimType: scimerrors.ScimTypeUniqueness, Status: http.StatusConflict,
			Detail: "This role exists: link the group to it."}
	}
	return scim.Resource{}, errRolesFixed
}

// Get implements scim.ResourceHandler.
func (h *groups) Get(r *http.Request, id string) (scim.Resource, error) {
	all, err := h.s.groupResources(r)
	if err != nil {
		return scim.Resource{}, err
	}
	for _, g := range all {
		if g.ID == id {
			return g, nil
		}
	}
	return scim.Resource{}, scimerrors.ScimErrorResourceNotFound(id)
}

// GetAll implements scim.ResourceHandler.
func (h *groups) GetAll(r *http.Request, params scim.ListRequestParams) (scim.Page, error) {
	all, err := h.s.groupResources(r)
	if err != nil {
		return scim.Page{}, err
	}
	var match []scim.Resource
	for _, g := range all {
		if params.FilterValidator == nil || params.FilterValidator.PassesFilter(filterView(g)) == nil {
			match = append(match, g)
		}
	}
	return scim.Page{TotalResults: len(match), Resources: window(match, params)}, nil
}

// Replace implements scim.ResourceHandler (PUT): the listed users get the
// role, members not listed any more become viewers.
func (h *groups) Replace(r *http.Request, id string, attrs scim.ResourceAttributes) (scim.Resource, error) {
	g, err := h.Get(r, id)
	if err != nil {
		return g, err
	}
	want := memberIDs(attrs["members"])
	var add, remove []string
	for _, u := range memberIDs(g.Attributes["members"]) {
		if !slices.Contains(want, u) {
			remove = append(remove, u)
		}
	}
	for _, u := range want {
		add = append(add, u)
	}
	if err := h.s.setRoles(r, id, add, remove); err != nil {
		return scim.Resource{}, err
	}
	return h.Get(r, id)
}

// Delete implements scim.ResourceHandler: roles are deleted in Gatehouse.
func (h *groups) Delete(r *http.Request, id string) error {
	if _, err := h.Get(r, id); err != nil {
		return err
	}
	return errRolesFixed
}

// Patch implements scim.ResourceHandler for membership changes, in the
// shapes Okta (add/remove with a members value) and Microsoft Entra ID
// (remove with members[value eq "..."] paths) send. A display name change
// is refused.
func (h *groups) Patch(r *http.Request, id string, ops []scim.PatchOperation) (scim.Resource, error) {
	g, err := h.Get(r, id)
	if err != nil {
		return g, err
	}
	var add, remove []string
	for _, op := range ops {
		attr := "members"
		value := op.Value
		if op.Path != nil {
			attr = op.Path.AttributePath.AttributeName
		} else if m, ok := op.Value.(map[string]interface{}); ok {
			if _, renamed := m["displayName"]; renamed {
				return scim.Resource{}, errRolesFixed
			}
			value = m["members"]
		}
		if attr != "members" {
			return scim.Resource{}, errRolesFixed
		}
		ids := memberIDs(value)
		if op.Path != nil && op.Path.ValueExpression != nil {
			ids = append(ids, valueFilterID(op.Path.ValueExpression)...)
		}
		switch op.Op {
		case scim.PatchOperationRemove:
			if len(ids) == 0 && op.Path != nil && op.Path.ValueExpression == nil {
				ids = memberIDs(g.Attributes["members"]) // remove all members
			}
			remove = append(remove, ids...)
		case scim.PatchOperationReplace:
			for _, u := range memberIDs(g.Attributes["members"]) {
				if !slices.Contains(ids, u) {
					remove = append(remove, u)
				}
			}
			add = append(add, ids...)
		default:
			add = append(add, ids...)
		}
	}
	if err := h.s.setRoles(r, id, add, remove); err != nil {
		return scim.Resource{}, err
	}
	return h.Get(r, id)
}

// memberIDs reads the user ids of a members value: a list of
// {"value": id} objects.
func memberIDs(v interface{}) []string {
	list, _ := v.([]interface{})
	var ids []string
	for _, m := range list {
		if o, ok := m.(map[string]interface{}); ok {
			if id, ok := o["value"].(string); ok {
				ids = append(ids, id)
			}
		}
	}
	return ids
}

// valueFilterID reads the id of a members[value eq "id"] path.
func valueFilterID(e filter.Expression) []string {
	a, ok := e.(*filter.AttributeExpression)
	if !ok || a.AttributePath.AttributeName != "value" || a.Operator != filter.EQ {
		return nil
	}
	if id, ok := a.CompareValue.(string); ok {
		return []string{id}
	}
	return nil
}

// roles returns the names of the roles a group can stand for: the
// built-in ones other than owner, then the custom ones.
func (s *Service) roles(r *http.Request) ([]string, error) {
	names := []string{authz.RoleAdmin, authz.RoleOperator, authz.RoleViewer}
	custom, err := s.d.Store.OrgRoles(r.Context(), callerOf(r.Context()).orgID)
	if err != nil {
		return nil, s.unavailable(r, err)
	}
	for _, c := range custom {
		names = append(names, c.Name)
	}
	return names, nil
}

// groupResources returns every role as a group with its provisioned
// members.
func (s *Service) groupResources(r *http.Request) ([]scim.Resource, error) {
	roles, err := s.roles(r)
	if err != nil {
		return nil, err
	}
	users, err := s.allUsers(r)
	if err != nil {
		return nil, err
	}
	byRole := map[string][]interface{}{}
	org := callerOf(r.Context()).orgID
	for _, u := range users {
		m, err := s.d.Store.Member(r.Context(), org, u.ID)
		if errors.Is(err, store.ErrNotFound) {
			continue
		} else if err != nil {
			return nil, s.unavailable(r, err)
		}
		byRole[m.Role] = append(byRole[m.Role], map[string]interface{}{"value": u.ID, "display": u.Attributes["userName"]})
	}
	out := make([]scim.Resource, 0, len(roles))
	for _, role := range roles {
		members := byRole[role]
		if members == nil {
			members = []interface{}{}
		}
		out = append(out, scim.Resource{ID: role, Attributes: scim.ResourceAttributes{"displayName": role, "members": members}})
	}
	return out, nil
}

// setRoles gives role to the users in add and the viewer role to those in
// remove that hold it, in one transaction. Only active provisioned
// members can be moved; the owner cannot.
func (s *Service) setRoles(r *http.Request, role string, add, remove []string) error {
	ctx, org := r.Context(), callerOf(r.Context()).orgID
	err := s.d.Store.Tx(ctx, func(tx store.Store) error {
		set := func(userID, to string, onlyFrom string) error {
			rec, err := tx.SCIMUser(ctx, org, userID)
			if errors.Is(err, store.ErrNotFound) || err == nil && !rec.Active {
				return invalid("Member " + userID + " is not an active provisioned user of this organization.")
			} else if err != nil {
				return err
			}
			m, err := tx.LockMember(ctx, org, userID)
			if err != nil {
				return err
			}
			if m.Role == to || onlyFrom != "" && m.Role != onlyFrom {
				return nil
			}
			if _, err := tx.SetMemberRole(ctx, org, userID, to, s.d.Now()); err != nil {
				return err
			}
			if err := s.emit(r, tx, events.Member(events.OrgMemberRoleChanged, events.MemberData{OrgID: org, UserID: userID, Role: to, PreviousRole: m.Role, By: "scim"})); err != nil {
				return err
			}
			return s.record(r, tx, "org.member.role", userID, map[string]any{"from": m.Role, "role": to, "via": "scim"})
		}
		for _, u := range remove {
			if err := set(u, authz.RoleViewer, role); err != nil {
				return err
			}
		}
		for _, u := range add {
			if err := set(u, role, ""); err != nil {
				return err
			}
		}
		return nil
	})
	return s.scimError(r, err)
}
