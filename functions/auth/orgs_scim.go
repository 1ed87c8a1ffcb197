package auth

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/gatehouse-dev/gatehouse/functions/auth/scim"
	"github.com/gatehouse-dev/gatehouse/shared/audit"
	"github.com/gatehouse-dev/gatehouse/shared/authz"
	"github.com/gatehouse-dev/gatehouse/shared/store"
	"github.com/gatehouse-dev/gatehouse/shared/web"
)

// registerSCIM adds the SCIM protocol routes (authenticated by the
// organization's SCIM token, never by a session) and the owner's routes
// that manage that token.
func (x *ext) registerSCIM(mux *http.ServeMux) {
	h := scim.New(x.d)
	mux.Handle("GET /scim/v2/{org}/ServiceProviderConfig", h)
	mux.Handle("GET /scim/v2/{org}/Schemas", h)
	mux.Handle("GET /scim/v2/{org}/Schemas/{id}", h)
	mux.Handle("GET /scim/v2/{org}/ResourceTypes", h)
	mux.Handle("GET /scim/v2/{org}/ResourceTypes/{id}", h)
	mux.Handle("GET /scim/v2/{org}/Users", h)
	mux.Handle("POST /scim/v2/{org}/Users", h)
	mux.Handle("GET /scim/v2/{org}/Users/{id}", h)
	mux.Handle("PUT /scim/v2/{org}/Users/{id}", h)
	mux.Handle("PATCH /scim/v2/{org}/Users/{id}", h)
	mux.Handle("DELETE /scim/v2/{org}/Users/{id}", h)
	mux.Handle("GET /scim/v2/{org}/Groups", h)
	mux.Handle("POST /scim/v2/{org}/Groups", h)
	mux.Handle("GET /scim/v2/{org}/Groups/{id}", h)
	mux.Handle("PUT /scim/v2/{org}/Groups/{id}", h)
	mux.Handle("PATCH /scim/v2/{org}/Groups/{id}", h)
	mux.Handle("DELETE /scim/v2/{org}/Groups/{id}", h)
	mux.Handle("GET /orgs/{org}/scim", x.orgRoute(authz.PermRead, x.scimStatus))
	mux.Handle("POST /orgs/{org}/scim/token", x.orgRoute(authz.PermRead, x.stepUp(x.scimTokenCreate)))
	mux.Handle("DELETE /orgs/{org}/scim/token", x.orgRoute(authz.PermRead, x.stepUp(x.scimTokenDelete)))
}

// scimJSON is an organization's SCIM setup as its owner sees it. Token is
// set only in the answer that creates it: it is stored hashed.
type scimJSON struct {
	Enabled   bool       `json:"enabled"`
	BaseURL   string     `json:"base_url"`
	Token     string     `json:"token,omitempty"`
	CreatedAt *time.Time `json:"created_at"`
}

// scimOwner returns the caller's membership if it is the owner's.
func scimOwner(r *http.Request) (authz.Member, error) {
	m, ok := authz.MemberFrom(r.Context())
	if !ok || m.Role != authz.RoleOwner {
		return m, web.Forbidden().WithCause(errors.New("scim setup is owner-only"))
	}
	return m, nil
}

func (x *ext) scimBase(orgID string) string {
	return x.d.Config.PublicURL.String() + "/auth/scim/v2/" + orgID
}

// scimStatus answers GET /orgs/{org}/scim (owner).
func (x *ext) scimStatus(w http.ResponseWriter, r *http.Request) error {
	m, err := scimOwner(r)
	if err != nil {
		return err
	}
	out := scimJSON{BaseURL: x.scimBase(m.OrgID)}
	t, err := x.d.Store.SCIMTokenOf(r.Context(), m.OrgID)
	switch {
	case err == nil:
		at := t.CreatedAt.UTC()
		out.Enabled, out.CreatedAt = true, &at
	case !errors.Is(err, store.ErrNotFound):
		return web.Unavailable(err)
	}
	return web.WriteJSON(w, http.StatusOK, out)
}

// scimTokenCreate answers POST /orgs/{org}/scim/token (owner, step-up):
// a new token, shown once; an earlier one stops working at once.
func (x *ext) scimTokenCreate(w http.ResponseWriter, r *http.Request) error {
	m, err := scimOwner(r)
	if err != nil {
		return err
	}
	var b [32]byte
	if _, err := io.ReadFull(x.d.Rand, b[:]); err != nil {
		return web.Unavailable(err)
	}
	tok := scim.TokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	t := store.SCIMToken{OrgID: m.OrgID, Hash: sha256.Sum256([]byte(tok)), CreatedBy: m.UserID, CreatedAt: x.d.Now()}
	err = x.d.Store.Tx(r.Context(), func(tx store.Store) error {
		_, had := tx.SCIMTokenOf(r.Context(), m.OrgID)
		if err := tx.SetSCIMToken(r.Context(), t); err != nil {
			return err
		}
		return x.record(r, tx, audit.Event{Actor: m.UserID, OrgID: m.OrgID, Action: "scim.token.create",
			Target: "org:" + m.OrgID, Metadata: map[string]any{"rotated": had == nil}})
	})
	if err != nil {
		return extUnavailable(err)
	}
	at := t.CreatedAt.UTC()
	return web.WriteJSON(w, http.StatusCreated, scimJSON{Enabled: true, BaseURL: x.scimBase(m.OrgID), Token: tok, CreatedAt: &at})
}

// scimTokenDelete answers DELETE /orgs/{org}/scim/token (owner, step-up).
// Provisioned memberships stay; single sign-on provisions again.
func (x *ext) scimTokenDelete(w http.ResponseWriter, r *http.Request) error {
	m, err := scimOwner(r)
	if err != nil {
		return err
	}
	err = x.d.Store.Tx(r.Context(), func(tx store.Store) error {
		if err := tx.DeleteSCIMToken(r.Context(), m.OrgID); err != nil {
			return err
		}
		return x.record(r, tx, audit.Event{Actor: m.UserID, OrgID: m.OrgID, Action: "scim.token.delete", Target: "org:" + m.OrgID})
	})
	if errors.Is(err, store.ErrNotFound) {
		return web.NotFound()
	}
	if err != nil {
		return extUnavailable(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
