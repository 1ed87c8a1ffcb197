// Package scim serves SCIM 2.0 provisioning (RFC 7643, RFC 7644) for each
// organization at /scim/v2/{org}/ of the auth function: Users (accounts on
// the organization's verified domains, their membership and its end),
// Groups (the organization's roles), ServiceProviderConfig, Schemas and
// ResourceTypes. The protocol (schemas, validation, filters, PATCH paths,
// error bodies) is github.com/elimity-com/scim's; this package maps it onto
// the store and decides who may call it.
//
// A caller authenticates with the organization's bearer token (created by
// its owner, stored by SHA-256 only) and can reach only that organization.
// Deprovisioning a user (active false, or DELETE) removes the membership
// and ends every session of the user at once, in the request that asks
// for it (AUTHZ-5).
package scim

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/elimity-com/scim"
	scimerrors "github.com/elimity-com/scim/errors"
	"github.com/elimity-com/scim/optional"
	"github.com/elimity-com/scim/schema"

	"github.com/gatehouse-dev/gatehouse/shared/bootstrap"
	"github.com/gatehouse-dev/gatehouse/shared/ratelimit"
	"github.com/gatehouse-dev/gatehouse/shared/store"
)

// TokenPrefix starts every SCIM token, so secret scanners can find one.
const TokenPrefix = "ghscim_"

// maxBody bounds a request body: a SCIM user or a PATCH of one group's
// members fits many times over.
const maxBody = 256 << 10

// maxPage bounds a list response.
const maxPage = 200

// limitToken bounds requests per organization token. Okta and Entra ID
// send at most a few requests per second per application.
var limitToken = ratelimit.SCIMToken

func init() {
	// Microsoft Entra ID sends booleans as "True"/"False" strings in PATCH
	// values; the library accepts them only with this switch.
	schema.SetAllowStringValues(true)
}

// Service answers the SCIM routes of every organization.
type Service struct {
	d    *bootstrap.Deps
	base string // public URL of /auth/scim/v2
}

// New returns the service on d.
func New(d *bootstrap.Deps) *Service {
	return &Service{d: d, base: strings.TrimSuffix(d.Config.PublicURL.String(), "/") + "/auth/scim/v2"}
}

// caller is the organization a request's token belongs to.
type caller struct {
	orgID string
	actor string // "scim:<org>": how audit events name the identity provider
}

type callerKey struct{}

func callerOf(ctx context.Context) caller {
	c, _ := ctx.Value(callerKey{}).(caller)
	return c
}

// ServeHTTP serves a route under /scim/v2/{org}; the mux names the
// routes one by one.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	org := r.PathValue("org")
	c, err := s.authenticate(r, org)
	if err != nil {
		writeError(w, err)
		return
	}
	if err := s.d.Limiter.Allow(r.Context(), limitToken, org); err != nil {
		var le *ratelimit.LimitedError
		if errors.As(err, &le) {
			w.Header().Set("Retry-After", retryAfter(le.RetryAfter))
			writeError(w, scimerrors.ScimError{Status: http.StatusTooManyRequests, Detail: "Too many requests for this token."})
			return
		}
		s.d.Logger.ErrorContext(r.Context(), "scim rate limiter unavailable", "err", err)
		writeError(w, scimerrors.ScimError{Status: http.StatusServiceUnavailable, Detail: "Try again later."})
		return
	}
	if err := readBody(r); err != nil {
		writeError(w, err)
		return
	}
	srv, err := s.server(org)
	if err != nil {
		s.d.Logger.ErrorContext(r.Context(), "scim server", "err", err)
		writeError(w, scimerrors.ScimErrorInternal)
		return
	}
	r = r.Clone(context.WithValue(r.Context(), callerKey{}, c))
	_, r.URL.Path, _ = strings.Cut(r.URL.Path, "/scim/v2/"+org)
	srv.ServeHTTP(w, r)
}

// authenticate finds the organization of the request's bearer token. Any
// failure is the same 401, whether the token is unknown, malformed or
// another organization's.
func (s *Service) authenticate(r *http.Request, org string) (caller, error) {
	denied := scimerrors.ScimError{Status: http.StatusUnauthorized, Detail: "A valid SCIM token of this organization is required."}
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || !strings.HasPrefix(tok, TokenPrefix) || len(tok) > 200 {
		return caller{}, denied
	}
	t, err := s.d.Store.SCIMTokenByHash(r.Context(), sha256.Sum256([]byte(tok)))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return caller{}, denied
	case err != nil:
		s.d.Logger.ErrorContext(r.Context(), "scim token lookup", "err", err)
		return caller{}, scimerrors.ScimError{Status: http.StatusServiceUnavailable, Detail: "Try again later."}
	}
	if subtle.ConstantTimeCompare([]byte(t.OrgID), []byte(org)) != 1 {
		return caller{}, denied
	}
	return caller{orgID: org, actor: "scim:" + org}, nil
}

// readBody bounds the body and keeps it for the library, which reads it
// whole and ignores read errors.
func readBody(r *http.Request) error {
	if r.Body == nil || r.Method == http.MethodGet || r.Method == http.MethodDelete {
		return nil
	}
	b, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxBody))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return scimerrors.ScimError{Status: http.StatusRequestEntityTooLarge, Detail: "The request body is too large."}
	case err != nil:
		return scimerrors.ScimErrorBadRequest("The request body could not be read.")
	}
	if len(b) > 0 && !json.Valid(b) {
		return scimerrors.ScimError{ScimType: scimerrors.ScimTypeInvalidSyntax, Status: http.StatusBadRequest,
			Detail: "The request body is not valid JSON."}
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	return nil
}

// server builds the library's server for one organization: resource
// locations are absolute URLs under that organization's base.
func (s *Service) server(org string) (scim.Server, error) {
	cfg := &scim.ServiceProviderConfig{
		DocumentationURI: optional.NewString("https://github.com/gatehouse-dev/gatehouse/blob/main/docs/enterprise.md"),
		MaxResults:       maxPage,
		SupportFiltering: true,
		SupportPatch:     true,
		AuthenticationSchemes: []scim.AuthenticationScheme{{Type: scim.AuthenticationTypeOauthBearerToken,
			Name: "Bearer token", Description: "The organization's SCIM token, created by its owner.", Primary: true}},
	}
	return scim.NewServer(&scim.ServerArgs{ServiceProviderConfig: cfg, ResourceTypes: []scim.ResourceType{
		{ID: optional.NewString("User"), Name: "User", Endpoint: "/Users", Description: optional.NewString("A member provisioned by the identity provider"),
			Schema: schema.CoreUserSchema(), Handler: &users{s: s}},
		{ID: optional.NewString("Group"), Name: "Group", Endpoint: "/Groups", Description: optional.NewString("A role of the organization"),
			Schema: schema.CoreGroupSchema(), Handler: &groups{s: s}},
	}}, scim.WithBaseURL(s.base+"/"+org))
}

// writeError writes err as a SCIM error body (RFC 7644 section 3.12).
func writeError(w http.ResponseWriter, err error) {
	var se scimerrors.ScimError
	if !errors.As(err, &se) {
		se = scimerrors.ScimErrorInternal
	}
	w.Header().Set("Content-Type", "application/scim+json")
	w.WriteHeader(se.Status)
	_ = json.NewEncoder(w).Encode(se)
}

func retryAfter(d time.Duration) string {
	s := int64(d / time.Second)
	if d%time.Second != 0 || s < 1 {
		s++
	}
	return strconv.FormatInt(s, 10)
}
