package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/store"
	"github.com/gatehouse-dev/gatehouse/shared/web"
)

type adminOrgJSON struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

type adminMemberJSON struct {
	UserID    string    `json:"user_id"`
	Role      string    `json:"role"`
	CreatedAt time.Time `json:"created_at"`
}

// adminOrgDetailJSON is GET /admin/orgs/{id}: the organization, its owner
// and its first members.
type adminOrgDetailJSON struct {
	adminOrgJSON
	Owner     string            `json:"owner"`
	Members   []adminMemberJSON `json:"members"`
	NextAfter string            `json:"next_members_after,omitempty"`
}

func adminOrg(o store.Org) adminOrgJSON {
	return adminOrgJSON{ID: o.ID, Name: o.Name, CreatedAt: o.CreatedAt.UTC()}
}

// handleAdminOrgs serves GET /admin/orgs: every organization in id order,
// in pages of ?limit= after ?after= (the last id of the previous page).
func (s *Server) handleAdminOrgs(w http.ResponseWriter, r *http.Request, c adminCall) error {
	ctx := r.Context()
	after, limit, err := pageQuery(r)
	if err != nil {
		return err
	}
	orgs, err := s.d.Store.ListOrgs(ctx, after, limit)
	if err != nil {
		return web.Unavailable(err)
	}
	if err := s.recordAdmin(ctx, c, "admin.org.list", "", map[string]any{"results": len(orgs)}); err != nil {
		return err
	}
	out := make([]adminOrgJSON, 0, len(orgs))
	for _, o := range orgs {
		out = append(out, adminOrg(o))
	}
	resp := map[string]any{"orgs": out}
	if len(orgs) == limit {
		resp["next_after"] = orgs[len(orgs)-1].ID
	}
	return web.WriteJSON(w, http.StatusOK, resp)
}

// handleAdminOrg serves GET /admin/orgs/{id}: the organization, its owner
// and a page of members (?limit=, ?after= a user id).
func (s *Server) handleAdminOrg(w http.ResponseWriter, r *http.Request, c adminCall) error {
	ctx := r.Context()
	o, err := s.adminOrgTarget(ctx, r)
	if err != nil {
		return err
	}
	after, limit, err := pageQuery(r)
	if err != nil {
		return err
	}
	owner, err := orgOwner(ctx, s.d.Store, o.ID)
	if err != nil {
		return web.Unavailable(err)
	}
	ms, err := s.d.Store.Members(ctx, o.ID, after, limit)
	if err != nil {
		return web.Unavailable(err)
	}
	d := adminOrgDetailJSON{adminOrgJSON: adminOrg(o), Owner: owner, Members: make([]adminMemberJSON, 0, len(ms))}
	for _, m := range ms {
		d.Members = append(d.Members, adminMemberJSON{UserID: m.UserID, Role: m.Role, CreatedAt: m.CreatedAt.UTC()})
	}
	if len(ms) == limit {
		d.NextAfter = ms[len(ms)-1].UserID
	}
	if err := s.recordAdmin(ctx, c, "admin.org.read", "org:"+o.ID, nil); err != nil {
		return err
	}
	return web.WriteJSON(w, http.StatusOK, d)
}

func (s *Server) adminOrgTarget(ctx context.Context, r *http.Request) (store.Org, error) {
	id := r.PathValue("id")
	if err := validPathID(id); err != nil {
		return store.Org{}, err
	}
	o, err := s.d.Store.Org(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return o, web.NotFound().WithCause(err)
	}
	if err != nil {
		return o, web.Unavailable(err)
	}
	return o, nil
}

type transferOwnerRequest struct {
	UserID string `json:"user_id"`
}

// handleAdminTransferOwner serves POST /admin/orgs/{id}/owner: ownership
// recovery for an organization whose owner cannot act. The new owner must
// already be a member; the old owner becomes an admin. The change and its
// org.owner.transfer audit event (operator and reason) are one
// transaction. 409 not_member, already_owner, or owner_changed when a
// concurrent transfer won.
func (s *Server) handleAdminTransferOwner(w http.ResponseWriter, r *http.Request, c adminCall) error {
	ctx := r.Context()
	o, err := s.adminOrgTarget(ctx, r)
	if err != nil {
		return err
	}
	var req transferOwnerRequest
	if err := web.DecodeJSON(r, &req); err != nil {
		return err
	}
	v := web.NewValidator()
	v.Length("user_id", req.UserID, 1, 128)
	if err := v.Err(); err != nil {
		return err
	}
	from, err := orgOwner(ctx, s.d.Store, o.ID)
	if err != nil {
		return web.Unavailable(err)
	}
	err = s.d.Store.Tx(ctx, func(tx store.Store) error {
		if err := transferOwnership(ctx, tx, s.d.Events, o.ID, from, req.UserID, "operator", s.d.Now()); err != nil {
			return err
		}
		e := c.event("org.owner.transfer", "user:"+req.UserID, map[string]any{"from": from})
		e.OrgID = o.ID
		_, err := s.d.Audit.RecordTx(ctx, tx, e)
		return err
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return web.Conflict("not_member", "The new owner must already be a member: invite them first.").WithCause(err)
	case errors.Is(err, store.ErrConflict):
		return web.Conflict("already_owner", "That user already owns the organization.").WithCause(err)
	case errors.Is(err, store.ErrOwner):
		return web.Conflict("owner_changed", "The owner changed meanwhile; read the organization again.").WithCause(err)
	case err != nil:
		return web.Unavailable(err)
	}
	return web.WriteJSON(w, http.StatusOK, map[string]string{"org_id": o.ID, "owner": req.UserID, "previous_owner": from})
}

// orgOwner returns the user id of orgID's owner.
func orgOwner(ctx context.Context, s store.Store, orgID string) (string, error) {
	after := ""
	for {
		ms, err := s.Members(ctx, orgID, after, 500)
		if err != nil {
			return "", err
		}
		for _, m := range ms {
			if m.Role == store.RoleOwner {
				return m.UserID, nil
			}
		}
		if len(ms) < 500 {
			return "", fmt.Errorf("organization %s has no owner", orgID)
		}
		after = ms[len(ms)-1].UserID
	}
}

// normalizeEmail is an address, or a prefix of one, as addresses are
// stored: trimmed and lower-cased.
func normalizeEmail(s string) string { return strings.ToLower(strings.TrimSpace(s)) }
