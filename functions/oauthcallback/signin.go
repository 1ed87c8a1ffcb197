package oauthcallback

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/gatehouse-dev/gatehouse/shared/envelope"
	"github.com/gatehouse-dev/gatehouse/shared/oauthstate"
	"github.com/gatehouse-dev/gatehouse/shared/oidcdiscovery"
	"github.com/gatehouse-dev/gatehouse/shared/outbound"
	"github.com/gatehouse-dev/gatehouse/shared/provider"
	"github.com/gatehouse-dev/gatehouse/shared/ratelimit"
	"github.com/gatehouse-dev/gatehouse/shared/session"
	"github.com/gatehouse-dev/gatehouse/shared/store"
	"github.com/gatehouse-dev/gatehouse/shared/web"
)

// Sign-in providers. "oidc" is an organization's own OIDC provider.
const (
	signInGoogle = "google"
	signInGitHub = "github"
	signInOIDC   = "oidc"
)

func signInProviders() []string { return []string{signInGoogle, signInGitHub} }

// Scopes requested for sign-in: the profile, nothing more (AUTH-10).
var (
	oidcScopes   = []string{oidc.ScopeOpenID, "email", "profile"}
	githubScopes = []string{"read:user", "user:email"}
)

// signInStartNetwork limits sign-in starts per client network: each may
// read an SSO configuration and, for Google, a cached discovery result.
var signInStartNetwork = ratelimit.SignInStartNetwork

// signIn holds the sign-in providers' settings and the bounded cache of
// discovery documents (configured issuers) and key sets (every issuer).
type signIn struct {
	settings map[string]provider.Settings
	cache    *oidcdiscovery.Cache
}

func newSignIn(cfg Config, client *outbound.Client, now func() time.Time) *signIn {
	return &signIn{settings: cfg.SignIn, cache: oidcdiscovery.NewCache(client, 0, 0, now)}
}

// idp is one identity provider, ready for a flow.
type idp struct {
	name     string // stored as the identity's provider
	oauth    *oauth2.Config
	verifier *oidc.IDTokenVerifier // nil for GitHub
	apiURL   string                // GitHub's API
	sso      store.SSOConfig       // organization SSO: its configuration; zero for Google and GitHub
	issuer   string                // OIDC: the issuer, for RFC 9207's iss
}

var (
	errUnknownProvider = &web.Error{Status: http.StatusNotFound, Code: "unknown_provider",
		Message: "This sign-in provider is not available."}
	errSSONotReady = &web.Error{Status: http.StatusConflict, Code: "sso_not_ready",
		Message: "The organization's single sign-on must be saved again by its owner before it can be used."}
)

// idpFor returns the provider route name names; orgID selects the
// organization for "oidc". Errors: errUnknownProvider, or a 503.
func (s *server) idpFor(ctx context.Context, name, orgID string) (*idp, error) {
	redirect := s.callbackBase + "/signin/" + name + "/callback"
	switch name {
	case signInGoogle:
		set := s.signin.settings[name]
		if set.ClientID == "" {
			return nil, errUnknownProvider
		}
		issuer := set.Issuer
		if issuer == "" {
			issuer = "https://accounts.google.com"
		}
		meta, err := s.signin.cache.Discover(ctx, issuer)
		if err != nil {
			return nil, web.Unavailable(err)
		}
		return s.oidcIDP(name, meta, set.ClientID, set.ClientSecret.Reveal(), redirect), nil
	case signInGitHub:
		return s.githubIDP(redirect)
	case signInOIDC:
		return s.orgIDP(ctx, orgID, redirect)
	}
	return nil, errUnknownProvider
}

func (s *server) githubIDP(redirect string) (*idp, error) {
	set := s.signin.settings[signInGitHub]
	if set.ClientID == "" {
		return nil, errUnknownProvider
	}
	ep := oauth2.Endpoint{AuthURL: "https://github.com/login/oauth/authorize",
		TokenURL: "https://github.com/login/oauth/access_token", AuthStyle: oauth2.AuthStyleInParams}
	override(&ep.AuthURL, set.AuthURL)
	override(&ep.TokenURL, set.TokenURL)
	api := "https://api.github.com"
	override(&api, set.APIURL)
	return &idp{name: signInGitHub, apiURL: api, oauth: &oauth2.Config{ClientID: set.ClientID,
		ClientSecret: set.ClientSecret.Reveal(), Endpoint: ep, RedirectURL: redirect, Scopes: githubScopes}}, nil
}

func override(dst *string, v string) {
	if v != "" {
		*dst = v
	}
}

// orgIDP is the organization's SSO provider; its client secret is opened
// for this flow only.
func (s *server) orgIDP(ctx context.Context, orgID, redirect string) (*idp, error) {
	if orgID == "" {
		return nil, errUnknownProvider
	}
	c, err := s.d.Store.SSOConfig(ctx, orgID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errUnknownProvider
	} else if err != nil {
		return nil, web.Unavailable(err)
	}
	if c.Discovery.AuthURL == "" {
		return nil, errSSONotReady
	}
	secret, err := s.d.Keyring.Open(ctx, envelope.PurposeCredential, ssoBinding(c), c.ClientSecret)
	if err != nil {
		return nil, web.Unavailable(fmt.Errorf("open sso client secret: %w", err))
	}
	defer clear(secret)
	meta := oidcdiscovery.Metadata{Issuer: c.Issuer, AuthURL: c.Discovery.AuthURL, TokenURL: c.Discovery.TokenURL,
		JWKSURL: c.Discovery.JWKSURL, UserInfoURL: c.Discovery.UserInfoURL, Algorithms: c.Discovery.Algorithms}
	p := s.oidcIDP("oidc:"+c.Issuer, meta, c.ClientID, string(secret), redirect)
	c.ClientSecret = nil
	p.sso = c
	return p, nil
}

func ssoBinding(c store.SSOConfig) envelope.Binding {
	return envelope.Binding{Org: c.OrgID, Record: c.ID, Field: "sso_configs.client_secret"}
}

// oidcIDP builds an OIDC provider from its metadata; its keys come from
// the bounded cache, fetched through the outbound client when needed.
func (s *server) oidcIDP(name string, meta oidcdiscovery.Metadata, clientID, secret, redirect string) *idp {
	keys := s.signin.cache.Keys(meta.Issuer, meta.JWKSURL)
	verifier := oidc.NewVerifier(meta.Issuer, keys, &oidc.Config{ClientID: clientID, Now: s.d.Now,
		SupportedSigningAlgs: meta.Algorithms})
	return &idp{name: name, issuer: meta.Issuer, verifier: verifier,
		oauth: &oauth2.Config{ClientID: clientID, ClientSecret: secret, RedirectURL: redirect, Scopes: oidcScopes,
			Endpoint: oauth2.Endpoint{AuthURL: meta.AuthURL, TokenURL: meta.TokenURL}}}
}

// signInStart answers GET /signin/{provider}?return_to=[&org=]: 302 to
// the provider with PKCE, state and (OIDC) nonce. It changes nothing on
// the server but the flow cookie, so it may stay a GET. Without return_to
// the sign-in returns to the configured default
// (GATEHOUSE_SIGNIN_RETURN_URL, the app's root by default), so the
// sign_in_url of PUT /sso works as handed out. Rate-limited per client
// network; no request leaves Gatehouse for an organization's issuer (its
// endpoints were stored when it was saved).
func (s *server) signInStart(w http.ResponseWriter, r *http.Request) error {
	if err := ratelimit.HTTPError(s.d.Limiter.Allow(r.Context(), signInStartNetwork, s.network(r))); err != nil {
		return err
	}
	q, err := strictQuery(r.URL.Query(), "return_to", "org")
	if err != nil {
		return err
	}
	location, err := s.startFlow(w, r, q, "")
	if err != nil {
		return err
	}
	return redirectOrJSON(w, r, location)
}

// linkStart answers POST /link/{provider}?return_to=[&org=]: a signed-in
// user, recently authenticated, starts linking a provider account to
// theirs (AUTH-13). It is a POST behind [session.Manager.Authenticate], so
// a cookie session must come from an allowed Origin with the CSRF header:
// no page of another site can start it. It answers
// {"authorization_url"} and sets the flow cookie; the callback links the
// identity only if its verified e-mail is the account's.
func (s *server) linkStart(w http.ResponseWriter, r *http.Request) error {
	p, _ := session.FromContext(r.Context())
	if err := s.sessions.RequireRecentAuth(r.Context()); err != nil {
		return err
	}
	q, err := strictQuery(r.URL.Query(), "return_to", "org")
	if err != nil {
		return err
	}
	if err := s.mayLink(r.Context(), p.UserID, r.PathValue("provider"), q["org"]); err != nil {
		return err
	}
	location, err := s.startFlow(w, r, q, p.UserID)
	if err != nil {
		return err
	}
	web.NoStore(w)
	return web.WriteJSON(w, http.StatusOK, map[string]string{"authorization_url": location})
}

// startFlow checks the return URL, issues the state of a sign-in (or, for
// linkUser, a link) flow with the provider the route names, sets the flow
// cookie and returns the provider's authorization URL.
func (s *server) startFlow(w http.ResponseWriter, r *http.Request, q map[string]string, linkUser string) (string, error) {
	returnTo := s.signInReturn
	if _, given := r.URL.Query()["return_to"]; given {
		var err error
		if returnTo, err = s.returns.Check(q["return_to"]); err != nil {
			return "", web.Invalid(map[string]string{"return_to": "must be a path on the app or a URL on an allowed origin"})
		}
	}
	name := r.PathValue("provider")
	if name == signInOIDC {
		var err error
		if name, err = s.orgSSOProtocol(r.Context(), q["org"]); err != nil {
			return "", err
		}
	}
	if name == signInSAML {
		return s.samlAuthURL(w, r, q["org"], returnTo, linkUser)
	}
	p, err := s.idpFor(r.Context(), name, q["org"])
	if err != nil {
		return "", err
	}
	tok, st, err := s.states.Issue(r.Context(), oauthstate.State{Kind: oauthstate.KindSignIn, Platform: name,
		OrgID: q["org"], UserID: linkUser, Link: linkUser != "", ReturnTo: returnTo})
	if err != nil {
		return "", web.Unavailable(err)
	}
	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(st.Verifier)}
	if p.verifier != nil {
		opts = append(opts, oidc.Nonce(st.OIDCNonce))
	}
	setFlowCookie(w, st.Nonce)
	return p.oauth.AuthCodeURL(tok, opts...), nil
}

// orgSSOProtocol is the provider route an organization's single sign-on
// takes when asked for as "oidc" (the sign_in_url of PUT /sso, the hosted
// pages' SSO button): "saml" for an organization whose single sign-on is
// SAML only, else "oidc".
func (s *server) orgSSOProtocol(ctx context.Context, orgID string) (string, error) {
	if orgID == "" {
		return signInOIDC, nil
	}
	if _, err := s.d.Store.SSOConfig(ctx, orgID); err == nil {
		return signInOIDC, nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return "", web.Unavailable(err)
	}
	if _, err := s.d.Store.SAMLConfig(ctx, orgID); err == nil {
		return signInSAML, nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return "", web.Unavailable(err)
	}
	return signInOIDC, nil
}
