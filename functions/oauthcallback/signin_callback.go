package oauthcallback

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"golang.org/x/oauth2"

	"github.com/gatehouse-dev/gatehouse/shared/audit"
	"github.com/gatehouse-dev/gatehouse/shared/authz"
	"github.com/gatehouse-dev/gatehouse/shared/oauthstate"
	"github.com/gatehouse-dev/gatehouse/shared/outbound"
	"github.com/gatehouse-dev/gatehouse/shared/session"
	"github.com/gatehouse-dev/gatehouse/shared/store"
)

// amrFederated is the authentication method recorded for a session that a
// provider's sign-in started; amrOrgSSO is added when that provider is an
// organization's own single sign-on (OIDC or SAML), so that requiring SSO
// ends the other federated sessions (Google, GitHub) of its members.
const (
	amrFederated = "fed"
	amrOrgSSO    = "sso"
)

// signInMethods are the amr values of a sign-in through p.
func signInMethods(p *idp) []string {
	if p.sso.OrgID != "" {
		return []string{amrFederated, amrOrgSSO}
	}
	return []string{amrFederated}
}

// who is the identity a provider vouched for.
type who struct {
	subject       string
	email         string
	emailVerified bool
	name          string
}

// signInCallback answers GET /signin/{provider}/callback: the same state,
// cookie and single-use checks as the connect callback, then the code
// exchange (PKCE) and the provider's identity (for OIDC: the ID token's
// signature, issuer, audience, expiry and nonce; for an organization's
// provider, a verified address at a verified domain). A link flow links
// the identity (see [server.linkIdentity]); otherwise the user linked to it
// gets a session issued by the auth function's code (or, with MFA, an MFA
// token to finish with), and an identity no one is linked to gets the
// e-mailed confirmation of [server.signInPending].
func (s *server) signInCallback(w http.ResponseWriter, r *http.Request) error {
	return s.finishFlow(w, r, oauthstate.KindSignIn, "provider", s.completeSignIn,
		func(r *http.Request, st oauthstate.State, fe *flowError) string {
			s.logger.InfoContext(r.Context(), "sign-in callback refused", "provider", st.Platform,
				"error_code", fe.code, "error", fe.cause.Error())
			s.auditSignInFailure(r, st, fe.code)
			return withParams(st.ReturnTo, "signin_error", fe.code)
		})
}

// auditSignInFailure records a refused sign-in or link whose state was
// authentic (AUDIT-1), as the auth function records a failed password
// sign-in: auth.login, outcome failure. The user is known only in a link
// flow.
func (s *server) auditSignInFailure(r *http.Request, st oauthstate.State, code string) {
	actor := st.UserID
	if actor == "" {
		actor = "anonymous"
	}
	_, err := s.d.Audit.Record(r.Context(), audit.Event{Actor: actor, OrgID: st.OrgID, Action: "auth.login",
		Target: st.UserID, Outcome: store.OutcomeFailure, Network: s.network(r),
		Metadata: map[string]any{"method": "oauth", "provider": st.Platform, "link": st.Link, "error_code": code}})
	if err != nil {
		s.logger.WarnContext(r.Context(), "audit of a refused sign-in failed", "error", err.Error())
	}
}

func (s *server) completeSignIn(w http.ResponseWriter, r *http.Request, st oauthstate.State) (string, error) {
	ctx, q := r.Context(), r.URL.Query()
	if e := q.Get("error"); e != "" {
		return "", fail(providerError(e), fmt.Errorf("provider answered error %q", e))
	}
	if len(q["code"]) != 1 || q.Get("code") == "" {
		return "", fail("invalid_request", errors.New("no single code"))
	}
	p, err := s.idpFor(ctx, st.Platform, st.OrgID)
	if err != nil {
		return "", fail("unknown_provider", err)
	}
	// RFC 9207: an OIDC provider that names itself in the authorization
	// response must name the issuer this flow went to (mix-up defense).
	if iss := q.Get("iss"); iss != "" && p.issuer != "" && iss != p.issuer {
		return "", fail("invalid_issuer", fmt.Errorf("authorization response from issuer %q", iss))
	}
	sum := sha256.Sum256([]byte(st.Nonce))
	if err := s.d.Store.UseOAuthNonce(ctx, sum, st.ExpiresAt); errors.Is(err, store.ErrUsed) {
		return "", fail("invalid_state", errors.New("state replayed"))
	} else if err != nil {
		return "", fail("unavailable", err)
	}
	id, err := s.identify(ctx, p, q.Get("code"), st)
	if err != nil {
		return "", err
	}
	if st.Link {
		return withParams(st.ReturnTo, "signin_linked", st.Platform), s.linkIdentity(ctx, r, p, id, st)
	}
	userID, err := s.signInLinked(ctx, p, id)
	if errors.Is(err, store.ErrNotFound) {
		return s.signInPending(ctx, p, id, st)
	} else if err != nil {
		return "", err
	}
	if err := s.ssoPolicy(ctx, userID, p.sso.OrgID); err != nil {
		return "", err
	}
	if err := s.provision(r, p.sso, userID); err != nil {
		return "", err
	}
	return s.startSession(w, r, userID, st.ReturnTo, p)
}

// identify exchanges the code and returns who the provider vouches for.
func (s *server) identify(ctx context.Context, p *idp, code string, st oauthstate.State) (who, error) {
	cctx := s.client.Context(ctx)
	tok, err := p.oauth.Exchange(cctx, code, oauth2.VerifierOption(st.Verifier))
	if err != nil {
		return who{}, fail("exchange_failed", describeOAuthError(err))
	}
	var id who
	if p.verifier != nil {
		id, err = verifyIDToken(cctx, p, tok, st.OIDCNonce)
	} else {
		id, err = githubUser(cctx, s.client, p.apiURL, tok)
	}
	if err != nil {
		return who{}, fail("invalid_identity", err)
	}
	// An organization's provider speaks only for verified addresses at
	// the domains the organization proved by DNS (AUTH-13).
	if p.sso.OrgID != "" {
		if !id.emailVerified {
			return who{}, fail("email_not_verified", errors.New("the organization's provider did not verify the e-mail"))
		}
		if err := s.orgDomain(ctx, p.sso.OrgID, id.email); err != nil {
			return who{}, err
		}
	}
	return id, nil
}

// verifyIDToken checks the ID token (signature against the issuer's keys,
// issuer, audience, expiry) and its nonce.
func verifyIDToken(ctx context.Context, p *idp, tok *oauth2.Token, nonce string) (who, error) {
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return who{}, errors.New("token response without an id_token")
	}
	idt, err := p.verifier.Verify(ctx, raw)
	if err != nil {
		return who{}, fmt.Errorf("verify id token: %w", err)
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(nonce)) != 1 {
		return who{}, errors.New("id token nonce does not match the flow")
	}
	var c struct {
		Email         string `json:"email"`
		EmailVerified bool   `json:"email_verified"`
		Name          string `json:"name"`
	}
	if err := idt.Claims(&c); err != nil {
		return who{}, fmt.Errorf("read id token claims: %w", err)
	}
	return who{subject: idt.Subject, email: strings.ToLower(c.Email), emailVerified: c.EmailVerified, name: c.Name}, nil
}

// githubUser reads the GitHub user id and primary verified e-mail.
func githubUser(ctx context.Context, c *outbound.Client, api string, tok *oauth2.Token) (who, error) {
	var u struct {
		ID    int64  `json:"id"`
		Login string `json:"login"`
		Name  string `json:"name"`
	}
	if err := githubGet(ctx, c, api+"/user", tok, &u); err != nil || u.ID <= 0 {
		return who{}, fmt.Errorf("read github user: %v", err)
	}
	var emails []struct {
		Email    string `json:"email"`
		Primary  bool   `json:"primary"`
		Verified bool   `json:"verified"`
	}
	if err := githubGet(ctx, c, api+"/user/emails", tok, &emails); err != nil {
		return who{}, fmt.Errorf("read github e-mails: %w", err)
	}
	id := who{subject: strconv.FormatInt(u.ID, 10), name: cmpOr(u.Name, u.Login)}
	for _, e := range emails {
		if e.Primary {
			id.email, id.emailVerified = strings.ToLower(e.Email), e.Verified
		}
	}
	return id, nil
}

func githubGet(ctx context.Context, c *outbound.Client, u string, tok *oauth2.Token, dst any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return errors.New("bad GitHub API URL")
	}
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	req.Header.Set("Accept", "application/vnd.github+json")
	resp, err := c.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			return ue.Err
		}
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(dst)
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// startSession signs userID in through p: an MFA token (in the return
// URL's fragment, never sent to a server) for a user with a second factor,
// else a browser session through session.CompleteSSO and a redirect. Either
// way the session records the organization whose single sign-on p is
// ("" for Google and GitHub), so that organization's SCIM deprovisioning
// ends it.
func (s *server) startSession(w http.ResponseWriter, r *http.Request, userID, returnTo string, p *idp) (string, error) {
	amr := signInMethods(p)
	methods, err := s.mfa.Methods(r.Context(), userID)
	if err != nil {
		return "", fail("unavailable", err)
	}
	if len(methods) > 0 {
		tok, err := s.sessions.IssueSSOMFAToken(r.Context(), userID, amr, p.sso.OrgID)
		if err != nil {
			return "", fail("unavailable", err)
		}
		return returnTo + "#" + url.Values{"mfa_token": {tok}, "methods": {strings.Join(methods, ",")}}.Encode(), nil
	}
	return returnTo, s.completeAsBrowser(w, r, userID, amr, p.sso.OrgID)
}

// completeAsBrowser runs session.CompleteSSO in browser mode and keeps
// only its cookies: the response to a sign-in callback is a redirect, not
// the JSON body it writes.
func (s *server) completeAsBrowser(w http.ResponseWriter, r *http.Request, userID string, amr []string, ssoOrg string) error {
	r2 := r.Clone(r.Context())
	r2.Header.Set(session.ClientHeader, "browser")
	// The sign-in arrives as a top-level navigation from the identity
	// provider (a GET callback, or the SAML ACS's cross-site POST), not
	// from the app's pages: the flow's own checks (state bound to the
	// browser's cookie, signed response) stand in for the Origin check
	// that guards the app's POSTs.
	r2.Method = http.MethodGet
	rec := &headerOnly{header: http.Header{}}
	if err := s.sessions.CompleteSSO(r.Context(), rec, r2, userID, amr, ssoOrg); errors.Is(err, store.ErrDisabled) {
		return fail("account_disabled", err)
	} else if err != nil {
		return fail("unavailable", err)
	}
	if rec.status != http.StatusOK {
		return fail("server_error", fmt.Errorf("session.Complete answered %d", rec.status))
	}
	for _, c := range rec.header.Values("Set-Cookie") {
		w.Header().Add("Set-Cookie", c)
	}
	return nil
}

// headerOnly is a ResponseWriter that keeps the header and status.
type headerOnly struct {
	header http.Header
	status int
}

func (h *headerOnly) Header() http.Header { return h.header }
func (h *headerOnly) WriteHeader(code int) {
	if h.status == 0 {
		h.status = code
	}
}
func (h *headerOnly) Write(p []byte) (int, error) {
	h.WriteHeader(http.StatusOK)
	return len(p), nil
}

// auditSignIn records a provider sign-in event in tx.
func (s *server) auditSignIn(ctx context.Context, tx store.AuditLog, r *http.Request, action, userID, provider string) error {
	_, err := s.d.Audit.RecordTx(ctx, tx, audit.Event{Actor: userID, Action: action, Target: userID,
		Network: s.network(r), Metadata: map[string]any{"provider": provider}})
	return err
}

// ssoPolicy refuses a sign-in of userID through anything but the single
// sign-on of the organization that requires it of the user's address
// (viaOrg is the organization whose SSO this sign-in went through, "" for
// Google or GitHub). AUTHZ-5.
func (s *server) ssoPolicy(ctx context.Context, userID, viaOrg string) error {
	u, err := s.d.Store.User(ctx, userID)
	if err != nil {
		return fail("unavailable", err)
	}
	org, err := authz.SSORequired(ctx, s.d.Store, u.Email, u.ID)
	switch {
	case err != nil:
		return fail("unavailable", err)
	case org != "" && org != viaOrg:
		return fail("sso_required", fmt.Errorf("organization %s requires its SSO of %s", org, u.ID))
	}
	return nil
}
