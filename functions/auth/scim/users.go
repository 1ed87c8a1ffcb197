package scim

import (
	"net/http"
	"strings"

	"github.com/elimity-com/scim"
	scimerrors "github.com/elimity-com/scim/errors"
	"github.com/elimity-com/scim/optional"

	"github.com/gatehouse-dev/gatehouse/shared/store"
)

// users is the /Users resource: accounts an organization's identity
// provider provisioned, with their membership.
type users struct{ s *Service }

// profile is what a request says of a user.
type profile struct {
	email      string
	name       string
	externalID string
	active     bool
}

// readProfile reads userName, the name, externalId and active (true when
// absent) from a validated resource.
func readProfile(attrs scim.ResourceAttributes) profile {
	p := profile{active: true}
	p.email, _ = attrs["userName"].(string)
	p.email = strings.ToLower(strings.TrimSpace(p.email))
	p.externalID, _ = attrs["externalId"].(string)
	if a, ok := attrs["active"].(bool); ok {
		p.active = a
	}
	p.name, _ = attrs["displayName"].(string)
	if n, ok := attrs["name"].(map[string]interface{}); ok && p.name == "" {
		if f, ok := n["formatted"].(string); ok {
			p.name = f
		} else {
			given, _ := n["givenName"].(string)
			family, _ := n["familyName"].(string)
			p.name = strings.TrimSpace(given + " " + family)
		}
	}
	return p
}

// Create implements scim.ResourceHandler: the account (when new, with its
// address unverified until the user first signs in through the
// organization's SSO) and its membership.
func (h *users) Create(r *http.Request, attrs scim.ResourceAttributes) (scim.Resource, error) {
	p := readProfile(attrs)
	if err := h.s.checkProfile(r, p); err != nil {
		return scim.Resource{}, err
	}
	u, rec, err := h.s.provision(r, p)
	if err != nil {
		return scim.Resource{}, err
	}
	return h.s.userResource(r, u, rec)
}

// Get implements scim.ResourceHandler.
func (h *users) Get(r *http.Request, id string) (scim.Resource, error) {
	u, rec, err := h.s.provisioned(r, id)
	if err != nil {
		return scim.Resource{}, err
	}
	return h.s.userResource(r, u, rec)
}

// GetAll implements scim.ResourceHandler: a page of the organization's
// provisioned users, or those that pass the filter.
func (h *users) GetAll(r *http.Request, params scim.ListRequestParams) (scim.Page, error) {
	org := callerOf(r.Context()).orgID
	if params.FilterValidator == nil {
		recs, total, err := h.s.d.Store.SCIMUsers(r.Context(), org, max(params.StartIndex-1, 0), params.Count)
		if err != nil {
			return scim.Page{}, h.s.unavailable(r, err)
		}
		page := scim.Page{TotalResults: total}
		for _, rec := range recs {
			res, err := h.s.recordResource(r, rec)
			if err != nil {
				return scim.Page{}, err
			}
			page.Resources = append(page.Resources, res)
		}
		return page, nil
	}
	all, err := h.s.allUsers(r)
	if err != nil {
		return scim.Page{}, err
	}
	var match []scim.Resource
	for _, res := range all {
		if params.FilterValidator.PassesFilter(filterView(res)) == nil {
			match = append(match, res)
		}
	}
	return scim.Page{TotalResults: len(match), Resources: window(match, params)}, nil
}

// Replace implements scim.ResourceHandler (PUT): the address cannot
// change; active and externalId can.
func (h *users) Replace(r *http.Request, id string, attrs scim.ResourceAttributes) (scim.Resource, error) {
	p := readProfile(attrs)
	u, rec, err := h.s.provisioned(r, id)
	if err != nil {
		return scim.Resource{}, err
	}
	if p.email != "" && !strings.EqualFold(p.email, u.Email) {
		return scim.Resource{}, errImmutableUserName
	}
	rec.ExternalID = p.externalID
	return h.s.update(r, u, rec, p.active)
}

// Delete implements scim.ResourceHandler: deprovisions the user and
// forgets the record.
func (h *users) Delete(r *http.Request, id string) error {
	_, rec, err := h.s.provisioned(r, id)
	if err != nil {
		return err
	}
	return h.s.deprovision(r, rec, true)
}

// Patch implements scim.ResourceHandler for the operations Okta and
// Microsoft Entra ID send: active and externalId (by path, or inside a
// path-less value), and profile attributes, which are accepted and not
// stored (Gatehouse keeps the address and the name given at creation).
func (h *users) Patch(r *http.Request, id string, ops []scim.PatchOperation) (scim.Resource, error) {
	u, rec, err := h.s.provisioned(r, id)
	if err != nil {
		return scim.Resource{}, err
	}
	active := rec.Active
	for _, op := range ops {
		changes := map[string]interface{}{}
		switch {
		case op.Path == nil:
			m, ok := op.Value.(map[string]interface{})
			if !ok {
				return scim.Resource{}, scimerrors.ScimErrorInvalidValue
			}
			changes = m
		case op.Op == scim.PatchOperationRemove:
			changes[op.Path.AttributePath.AttributeName] = nil
		default:
			changes[op.Path.AttributePath.AttributeName] = op.Value
		}
		for k, v := range changes {
			if err := applyUserChange(u, &rec, &active, k, v); err != nil {
				return scim.Resource{}, err
			}
		}
	}
	return h.s.update(r, u, rec, active)
}

var errImmutableUserName = scimerrors.ScimError{ScimType: scimerrors.ScimTypeMutability, Status: http.StatusBadRequest,
	Detail: "userName is the account's address and cannot change; deprovision the user and provision the new address."}

// applyUserChange applies one attribute of a PATCH.
func applyUserChange(u store.User, rec *store.SCIMUser, active *bool, attr string, v interface{}) error {
	switch strings.ToLower(attr) {
	case "active":
		b, ok := v.(bool)
		if !ok {
			return scimerrors.ScimError{ScimType: scimerrors.ScimTypeInvalidValue, Status: http.StatusBadRequest, Detail: "active must be a boolean."}
		}
		*active = b
	case "externalid":
		s, _ := v.(string)
		rec.ExternalID = s
	case "username":
		if s, _ := v.(string); !strings.EqualFold(strings.TrimSpace(s), u.Email) {
			return errImmutableUserName
		}
	}
	return nil
}

// userResource is the SCIM view of a provisioned user.
func (s *Service) userResource(r *http.Request, u store.User, rec store.SCIMUser) (scim.Resource, error) {
	created, updated := rec.CreatedAt.UTC(), rec.UpdatedAt.UTC()
	attrs := scim.ResourceAttributes{
		"userName":    u.Email,
		"displayName": u.Name,
		"name":        map[string]interface{}{"formatted": u.Name},
		"emails":      []interface{}{map[string]interface{}{"value": u.Email, "type": "work", "primary": true}},
		"active":      rec.Active,
	}
	res := scim.Resource{ID: u.ID, Attributes: attrs, Meta: scim.Meta{Created: &created, LastModified: &updated}}
	if rec.ExternalID != "" {
		res.ExternalID = optional.NewString(rec.ExternalID)
	}
	return res, nil
}

// recordResource reads the account of rec and returns its SCIM view.
func (s *Service) recordResource(r *http.Request, rec store.SCIMUser) (scim.Resource, error) {
	u, err := s.d.Store.User(r.Context(), rec.UserID)
	if err != nil {
		return scim.Resource{}, s.unavailable(r, err)
	}
	return s.userResource(r, u, rec)
}

// maxFiltered bounds how many users a filtered list reads.
const maxFiltered = 10000

// allUsers returns every provisioned user of the caller's organization,
// for filtering, up to maxFiltered.
func (s *Service) allUsers(r *http.Request) ([]scim.Resource, error) {
	org := callerOf(r.Context()).orgID
	var out []scim.Resource
	for off := 0; off < maxFiltered; off += 500 {
		recs, _, err := s.d.Store.SCIMUsers(r.Context(), org, off, 500)
		if err != nil {
			return nil, s.unavailable(r, err)
		}
		for _, rec := range recs {
			res, err := s.recordResource(r, rec)
			if err != nil {
				return nil, err
			}
			out = append(out, res)
		}
		if len(recs) < 500 {
			break
		}
	}
	return out, nil
}

// filterView is what a filter sees of a resource: its attributes with id
// and externalId.
func filterView(res scim.Resource) map[string]interface{} {
	m := map[string]interface{}{"id": res.ID}
	for k, v := range res.Attributes {
		m[k] = v
	}
	if res.ExternalID.Present() {
		m["externalId"] = res.ExternalID.Value()
	}
	return m
}

// window returns the page of list that params ask for.
func window(list []scim.Resource, params scim.ListRequestParams) []scim.Resource {
	start := max(params.StartIndex-1, 0)
	if start >= len(list) {
		return nil
	}
	end := min(start+params.Count, len(list))
	return list[start:end]
}
