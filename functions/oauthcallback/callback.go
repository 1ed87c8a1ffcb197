package oauthcallback

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"golang.org/x/oauth2"

	"github.com/gatehouse-dev/gatehouse/shared/audit"
	"github.com/gatehouse-dev/gatehouse/shared/authz"
	"github.com/gatehouse-dev/gatehouse/shared/envelope"
	"github.com/gatehouse-dev/gatehouse/shared/oauthstate"
	"github.com/gatehouse-dev/gatehouse/shared/provider"
	"github.com/gatehouse-dev/gatehouse/shared/store"
	"github.com/gatehouse-dev/gatehouse/shared/web"
)

// flowError is a callback failure: the browser goes back to the return URL
// with ?oauth_error=code; cause is logged, never shown.
type flowError struct {
	code  string
	cause error
}

func (e *flowError) Error() string { return e.code + ": " + e.cause.Error() }

func fail(code string, cause error) error { return &flowError{code: code, cause: cause} }

// callback completes a connection: GET /callback/{platform}?code=&state=.
// Before any database write it checks the state (signature, expiry, flow,
// platform), the browser's cookie nonce, the issuer (RFC 9207) and, for
// Shopify, the hmac and shop; then it re-checks the user may still manage
// the organization's integrations, marks the state used (single use),
// exchanges the code with the PKCE verifier, stores the sealed tokens and
// audits, and redirects to the return URL. Any failure redirects there with
// an error code and stores no credential; a state that cannot be trusted
// gets a plain error page instead.
func (s *server) callback(w http.ResponseWriter, r *http.Request) error {
	return s.finishFlow(w, r, oauthstate.KindConnect, "platform",
		func(_ http.ResponseWriter, r *http.Request, st oauthstate.State) (string, error) {
			return s.complete(r, st)
		},
		func(r *http.Request, st oauthstate.State, fe *flowError) string {
			s.logger.InfoContext(r.Context(), "oauth callback refused", "platform", st.Platform, "org_id", st.OrgID,
				"error_code", fe.code, "error", fe.cause.Error())
			s.auditFailure(r, st, fe.code)
			return withParams(st.ReturnTo, "oauth_error", fe.code, "platform", st.Platform)
		})
}

// finishFlow is what every callback does around its own completion: clear
// the flow cookie, verify the state of kind for the platform or provider
// named by the route's path value, run complete, and redirect to where it
// says. A failure with a trusted state goes through refused, which logs it
// and returns the error redirect; an untrusted state gets a plain error page.
func (s *server) finishFlow(w http.ResponseWriter, r *http.Request, kind oauthstate.Kind, route string,
	complete func(http.ResponseWriter, *http.Request, oauthstate.State) (string, error),
	refused func(*http.Request, oauthstate.State, *flowError) string) error {
	web.NoStore(w)
	st, err := s.verifyState(r, kind, r.PathValue(route))
	if st.Nonce != "" {
		clearFlowCookie(w, flowCookieName(st.Nonce)) // the flow ends here, whatever the outcome
	}
	if st.ReturnTo == "" {
		return plainError(w, r, s, err)
	}
	var location string
	if err == nil {
		location, err = complete(w, r, st)
	}
	if err == nil {
		http.Redirect(w, r, location, http.StatusFound)
		return nil
	}
	var fe *flowError
	if !errors.As(err, &fe) {
		fe = &flowError{code: "server_error", cause: err}
	}
	http.Redirect(w, r, refused(r, st, fe), http.StatusFound)
	return nil
}

// verifyState checks the state against the cookie and the route. An
// untrustworthy state comes back without a ReturnTo.
func (s *server) verifyState(r *http.Request, kind oauthstate.Kind, route string) (oauthstate.State, error) {
	token := r.URL.Query().Get("state")
	// Without a cookie value Verify still opens the state; its nonce names
	// the flow's cookie.
	st, err := s.states.Verify(r.Context(), kind, token, "")
	if errors.Is(err, oauthstate.ErrBrowser) {
		if c, cerr := r.Cookie(flowCookieName(st.Nonce)); cerr == nil {
			st, err = s.states.Verify(r.Context(), kind, token, c.Value)
		}
	}
	switch {
	case errors.Is(err, oauthstate.ErrExpired):
		return st, fail("expired_state", err)
	case errors.Is(err, oauthstate.ErrBrowser):
		return st, fail("invalid_state", err)
	case err != nil:
		return oauthstate.State{}, err
	case st.Platform != route:
		return st, fail("invalid_state", fmt.Errorf("state for %q used on the %q callback", st.Platform, route))
	}
	return st, nil
}

// plainError answers a callback whose state cannot be trusted.
func plainError(w http.ResponseWriter, r *http.Request, s *server, err error) error {
	status, msg := http.StatusBadRequest, "This sign-in or connection link is invalid or was already used. Start again from the app."
	if errors.Is(err, envelope.ErrUnavailable) {
		status, msg = http.StatusServiceUnavailable, "The service is temporarily unavailable. Start again from the app in a moment."
	}
	s.logger.InfoContext(r.Context(), "oauth callback with an untrusted state", "route", r.Pattern, "error", errString(err))
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, werr := w.Write([]byte(msg + "\n"))
	return werr
}

func errString(err error) string {
	if err == nil {
		return "state has no return URL"
	}
	return err.Error()
}

// complete runs the checks that follow a trusted state, then the exchange.
func (s *server) complete(r *http.Request, st oauthstate.State) (string, error) {
	ctx, q := r.Context(), r.URL.Query()
	p, err := s.registry.Lookup(st.Platform)
	if err != nil {
		return "", fail("unknown_platform", err)
	}
	if e := q.Get("error"); e != "" {
		return "", fail(providerError(e), fmt.Errorf("platform answered error %q", e))
	}
	if err := s.checkResponse(p, st, q); err != nil {
		return "", err
	}
	if err := s.stillAllowed(ctx, st); err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(st.Nonce))
	if err := s.d.Store.UseOAuthNonce(ctx, sum, st.ExpiresAt); errors.Is(err, store.ErrUsed) {
		return "", fail("invalid_state", errors.New("state replayed"))
	} else if err != nil {
		return "", fail("unavailable", err)
	}
	tok, err := s.exchange(ctx, p, st, q.Get("code"))
	if err != nil {
		return "", fail("exchange_failed", err)
	}
	id, err := s.save(ctx, r, p, st, tok)
	if err != nil {
		return "", err
	}
	return withParams(st.ReturnTo, "oauth_connected", p.Name, "connection", id), nil
}

// providerError maps the platform's error parameter to ours.
func providerError(e string) string {
	if e == "access_denied" {
		return "access_denied"
	}
	return "provider_error"
}

// checkResponse checks the authorization response itself: the issuer,
// Shopify's hmac and shop, and that there is a code.
func (s *server) checkResponse(p *provider.Provider, st oauthstate.State, q url.Values) error {
	if err := p.CheckIssuer(q.Get("iss")); err != nil {
		return fail("invalid_issuer", err)
	}
	if err := p.VerifyCallbackHMAC(q); err != nil {
		return fail("invalid_signature", err)
	}
	if p.PerShop {
		if shop, err := provider.NormalizeShop(q.Get("shop")); err != nil || shop != st.Shop {
			return fail("invalid_state", fmt.Errorf("callback shop %q, state shop %q", q.Get("shop"), st.Shop))
		}
	}
	if len(q["code"]) != 1 || q.Get("code") == "" {
		return fail("invalid_request", errors.New("no single code"))
	}
	return nil
}

// stillAllowed re-checks, at the callback, that the user who started the
// flow may still manage the organization's integrations.
func (s *server) stillAllowed(ctx context.Context, st oauthstate.State) error {
	m, err := s.authz.Member(ctx, st.OrgID, st.UserID)
	switch {
	case errors.Is(err, authz.ErrNotMember):
		return fail("forbidden", err)
	case err != nil:
		return fail("unavailable", err)
	case !m.Can(authz.PermIntegrationsManage):
		return fail("forbidden", fmt.Errorf("role %q cannot manage integrations", m.Role))
	}
	return nil
}

// exchange redeems the code with the PKCE verifier, server to server.
func (s *server) exchange(ctx context.Context, p *provider.Provider, st oauthstate.State, code string) (*oauth2.Token, error) {
	cfg, err := p.Config(s.callbackURL(p.Name), st.Shop)
	if err != nil {
		return nil, err
	}
	ctx = s.client.Context(ctx)
	tok, err := cfg.Exchange(ctx, code, p.ExchangeOptions(st.Verifier)...)
	if err != nil {
		return nil, describeOAuthError(err)
	}
	if tok.AccessToken == "" {
		return nil, errors.New("token response without an access token")
	}
	return p.ExchangeLongLived(ctx, s.client, tok)
}

// describeOAuthError keeps the status and OAuth error code of a failed
// token request, never its body.
func describeOAuthError(err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		return fmt.Errorf("token endpoint refused: %q", re.ErrorCode)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("token endpoint unreachable: %w", ue.Err)
	}
	return errors.New("token request failed")
}

// auditFailure records a refused callback whose state was authentic.
func (s *server) auditFailure(r *http.Request, st oauthstate.State, code string) {
	_, err := s.d.Audit.Record(r.Context(), audit.Event{Actor: st.UserID, OrgID: st.OrgID, Action: "credential.connect",
		Target: st.Platform, Outcome: store.OutcomeFailure, Network: s.network(r),
		Metadata: map[string]any{"platform": st.Platform, "error_code": code}})
	if err != nil {
		s.logger.WarnContext(r.Context(), "audit of a refused callback failed", "error", err.Error())
	}
}

// network is the client network for audit events.
func (s *server) network(r *http.Request) string {
	p := web.Network(web.ClientIP(r, s.d.Config.TrustedProxyHops))
	if !p.IsValid() {
		return ""
	}
	return p.String()
}

// withParams returns u with the query parameters kv added.
func withParams(u string, kv ...string) string {
	parsed, err := url.Parse(u)
	if err != nil {
		return u // checked by returnurl already; cannot happen
	}
	q := parsed.Query()
	for i := 0; i+1 < len(kv); i += 2 {
		q.Set(kv[i], kv[i+1])
	}
	parsed.RawQuery = q.Encode()
	return parsed.String()
}
