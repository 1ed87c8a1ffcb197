package auth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/gatehouse-dev/gatehouse/shared/config"
	"github.com/gatehouse-dev/gatehouse/shared/ratelimit"
	"github.com/gatehouse-dev/gatehouse/shared/session"
	"github.com/gatehouse-dev/gatehouse/shared/web"
)

// Limits of the introspection routes.
var (
	limitIntrospectNetwork = ratelimit.IntrospectNetwork
	limitIntrospectClient  = ratelimit.IntrospectClient
)

// introspection is the answer about one token, in RFC 7662 form (both
// introspection routes write it). Only "active" is set for a token that is
// not active. The organization fields are those of an organization-scoped
// token, read again from the membership now, not copied from the token.
type introspection struct {
	Active      bool     `json:"active"`
	TokenType   string   `json:"token_type,omitempty"`
	Issuer      string   `json:"iss,omitempty"`
	Audience    string   `json:"aud,omitempty"`
	Subject     string   `json:"sub,omitempty"`
	SessionID   string   `json:"sid,omitempty"`
	IssuedAt    int64    `json:"iat,omitempty"`
	ExpiresAt   int64    `json:"exp,omitempty"`
	AuthTime    int64    `json:"auth_time,omitempty"`
	AMR         []string `json:"amr,omitempty"`
	Level       int      `json:"auth_level,omitempty"`
	OrgID       string   `json:"org_id,omitempty"`
	Role        string   `json:"role,omitempty"`
	Permissions []string `json:"permissions,omitzero"`
}

// introspect answers for tok: active only if it passes the check every
// request here gets (signature, expiry, the session row) and, for an
// organization-scoped token, the user is still a member; then the claims
// with the membership as it is now. A failure to decide is an error (503),
// never an "active" answer.
func (s *Server) introspect(ctx context.Context, tok string) (introspection, error) {
	p, err := s.sessions.Check(ctx, tok)
	var we *web.Error
	switch {
	case errors.As(err, &we) && we.Status == http.StatusUnauthorized:
		return introspection{}, nil
	case err != nil:
		return introspection{}, err
	}
	out := introspection{Active: true, TokenType: "Bearer", Issuer: s.signer.Issuer(), Audience: s.signer.Audience(),
		Subject: p.UserID, SessionID: p.SessionID, IssuedAt: p.Token.IssuedAt.Unix(), ExpiresAt: p.Token.ExpiresAt.Unix(),
		AuthTime: p.AuthTime.Unix(), AMR: p.Methods, Level: p.Level}
	if p.Token.Org == nil {
		return out, nil
	}
	org, err := s.sessions.CurrentOrg(ctx, p)
	switch {
	case errors.Is(err, session.ErrNotMember):
		return introspection{}, nil
	case err != nil:
		return introspection{}, web.Unavailable(fmt.Errorf("read membership for introspection: %w", err))
	}
	out.OrgID, out.Role, out.Permissions = org.ID, org.Role, nonNil(org.Permissions)
	return out, nil
}

// handleIntrospect serves POST /introspect, the JSON form kept for existing
// callers: whether an access token is active right now. It needs no
// credentials because it tells the caller only about a token the caller
// already holds; anything invalid is {"active":false}. New backends use
// RFC 7662 at POST /token/introspect.
func (s *Server) handleIntrospect(w http.ResponseWriter, r *http.Request) error {
	var req tokenRequest
	if err := web.DecodeJSON(r, &req); err != nil {
		return err
	}
	v := web.NewValidator()
	v.Length("token", req.Token, 1, 4096)
	if err := v.Err(); err != nil {
		return err
	}
	if err := s.limit(r.Context(), ratelimit.Check{Limit: limitIntrospectNetwork, Key: s.network(r)}); err != nil {
		return err
	}
	out, err := s.introspect(r.Context(), req.Token)
	if err != nil {
		return err
	}
	return web.WriteTokenJSON(w, http.StatusOK, out)
}

// handleIntrospectRFC7662 serves POST /token/introspect: RFC 7662
// introspection for the SaaS's backends, form-encoded, authenticated with
// client_secret_basic (a client of GATEHOUSE_INTROSPECTION_CLIENTS). A
// request without valid client credentials is a 401 invalid_client.
func (s *Server) handleIntrospectRFC7662(w http.ResponseWriter, r *http.Request) error {
	client, err := s.introspectionClient(r)
	if err != nil {
		if lerr := s.limit(r.Context(), ratelimit.Check{Limit: limitIntrospectNetwork, Key: s.network(r)}); lerr != nil {
			return lerr
		}
		return err
	}
	form, err := web.DecodeForm(r, "token", "token_type_hint")
	if err != nil {
		return err
	}
	v := web.NewValidator()
	v.Length("token", form.Get("token"), 1, 4096)
	v.Length("token_type_hint", form.Get("token_type_hint"), 0, 64)
	if err := v.Err(); err != nil {
		return err
	}
	if err := s.limit(r.Context(), ratelimit.Check{Limit: limitIntrospectClient, Key: client}); err != nil {
		return err
	}
	// Only access tokens are introspected; a refresh token (whatever the
	// hint says) is not one and is reported inactive.
	out, err := s.introspect(r.Context(), form.Get("token"))
	if err != nil {
		return err
	}
	return web.WriteTokenJSON(w, http.StatusOK, out)
}

// errInvalidClient answers a request whose client authentication failed.
var errInvalidClient = web.Unauthorized("invalid_client", "Client authentication failed.")

// introspectionClient returns the id of the client that authenticated r
// with HTTP Basic (RFC 6749 section 2.3.1: id and secret form-encoded,
// then Basic), or errInvalidClient.
func (s *Server) introspectionClient(r *http.Request) (string, error) {
	user, pass, ok := r.BasicAuth()
	if !ok || len(r.Header.Values("Authorization")) != 1 {
		return "", errInvalidClient.WithCause(errors.New("no basic credentials"))
	}
	id, err1 := url.QueryUnescape(user)
	secret, err2 := url.QueryUnescape(pass)
	if err1 != nil || err2 != nil {
		return "", errInvalidClient.WithCause(errors.New("credentials are not form-encoded"))
	}
	if !s.clients.valid(id, secret) {
		return "", errInvalidClient.WithCause(fmt.Errorf("client %.64q: wrong id or secret", id))
	}
	return id, nil
}

// clientSecrets holds the SHA-256 of each introspection client's secret,
// by client id.
type clientSecrets map[string][32]byte

// valid reports whether secret is the secret of client id, in time that
// does not depend on where a wrong secret differs or on whether id exists.
func (c clientSecrets) valid(id, secret string) bool {
	want, ok := c[id]
	got := sha256.Sum256([]byte(secret))
	return subtle.ConstantTimeCompare(got[:], want[:]) == 1 && ok
}

var (
	clientIDRE     = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)
	clientSecretRE = regexp.MustCompile(`^[A-Za-z0-9._~-]{32,256}$`)
)

// parseClients reads GATEHOUSE_INTROSPECTION_CLIENTS: comma-separated
// id:secret pairs, ids of 1 to 64 letters, digits and ._-, secrets of 32 to
// 256 URL-unreserved characters (so form encoding leaves them as they are).
// The error never repeats a secret.
func parseClients(s config.Secret) (clientSecrets, error) {
	out := clientSecrets{}
	if s.IsZero() {
		return out, nil
	}
	for i, pair := range strings.Split(s.Reveal(), ",") {
		id, secret, ok := strings.Cut(strings.TrimSpace(pair), ":")
		switch {
		case !ok || !clientIDRE.MatchString(id):
			return nil, fmt.Errorf("entry %d: want id:secret with an id of 1 to 64 letters, digits and ._-", i+1)
		case !clientSecretRE.MatchString(secret):
			return nil, fmt.Errorf("client %s: the secret must be 32 to 256 letters, digits and ._~-", id)
		}
		if _, dup := out[id]; dup {
			return nil, fmt.Errorf("client %s is listed twice", id)
		}
		out[id] = sha256.Sum256([]byte(secret))
	}
	return out, nil
}
