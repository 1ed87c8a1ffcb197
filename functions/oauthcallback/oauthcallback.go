// Package oauthcallback is the OAuthCallback HTTP function: connect and disconnect third-party platforms, sign-in with Google, GitHub and OIDC, and the internal token broker.
// Locally it is mounted by `gatehouse serve`; on Cloud Run the Functions
// Framework serves the entry point registered in init.
//
// Flows are server side (OAUTH-1): authorization codes arrive at the
// callback and are exchanged here; tokens are sealed (CRED-1) and only the
// internal broker ever returns one, to the SaaS's own services.
package oauthcallback

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/gatehouse-dev/gatehouse/shared/authz"
	"github.com/gatehouse-dev/gatehouse/shared/bootstrap"
	"github.com/gatehouse-dev/gatehouse/shared/broker"
	"github.com/gatehouse-dev/gatehouse/shared/config"
	"github.com/gatehouse-dev/gatehouse/shared/dnsproof"
	"github.com/gatehouse-dev/gatehouse/shared/mfa"
	"github.com/gatehouse-dev/gatehouse/shared/oauthstate"
	"github.com/gatehouse-dev/gatehouse/shared/outbound"
	"github.com/gatehouse-dev/gatehouse/shared/provider"
	"github.com/gatehouse-dev/gatehouse/shared/returnurl"
	"github.com/gatehouse-dev/gatehouse/shared/session"
	"github.com/gatehouse-dev/gatehouse/shared/token"
	"github.com/gatehouse-dev/gatehouse/shared/web"
)

func init() {
	bootstrap.HTTP("OAuthCallback", func(d *bootstrap.Deps, l *config.Loader) (http.Handler, error) {
		return New(d, LoadConfig(l))
	})
}

// server holds what the handlers share.
type server struct {
	d            *bootstrap.Deps
	logger       *slog.Logger
	registry     *provider.Registry
	states       *oauthstate.Codec
	returns      *returnurl.Policy
	broker       *broker.Broker
	sessions     *session.Manager
	authz        *authz.Authorizer
	client       *outbound.Client
	callbackBase string
	signInReturn string // the checked default return URL of a sign-in
	linkBase     string // where mailed links point (Config.LinkBase)
	callers      *callerAuth
	signin       *signIn
	mfa          mfaMethods
	resolver     *dnsproof.Resolver
}

// mfaMethods lists a user's second factors (shared/mfa).
type mfaMethods interface {
	Methods(ctx context.Context, userID string) ([]string, error)
}

// New returns the function's handler. Routes are relative to the
// function's URL.
func New(d *bootstrap.Deps, cfg Config) (http.Handler, error) {
	s, err := newServer(d, cfg)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("GET /healthz", d.Health())
	mux.Handle("POST /connect/{platform}", s.member(authz.PermIntegrationsManage, s.connect))
	mux.Handle("GET /callback/{platform}", web.Handler(s.logger, s.callback))
	mux.Handle("GET /connections", s.member(authz.PermRead, s.list))
	mux.Handle("POST /connections/{id}/disconnect", s.member(authz.PermIntegrationsManage, s.disconnect))
	mux.Handle("POST /internal/token", web.Handler(s.logger, s.token))
	mux.Handle("GET /internal/connections", web.Handler(s.logger, s.internalList))
	mux.Handle("GET /signin/{provider}", web.Handler(s.logger, s.signInStart))
	mux.Handle("GET /signin/{provider}/callback", web.Handler(s.logger, s.signInCallback))
	mux.Handle("POST /signin/confirm", web.Handler(s.logger, s.confirmSignIn))
	mux.Handle("POST /link/{provider}", s.sessions.Authenticate(web.Handler(s.logger, s.linkStart)))
	mux.Handle("GET /sso", s.member(authz.PermIntegrationsManage, s.getSSO))
	mux.Handle("PUT /sso", s.member(authz.PermIntegrationsManage, s.putSSO))
	mux.Handle("DELETE /sso", s.member(authz.PermIntegrationsManage, s.deleteSSO))
	mux.Handle("GET /saml", s.member(authz.PermIntegrationsManage, s.getSAML))
	mux.Handle("PUT /saml", s.member(authz.PermIntegrationsManage, s.putSAML))
	mux.Handle("DELETE /saml", s.member(authz.PermIntegrationsManage, s.deleteSAML))
	mux.Handle("GET /saml/{org}/metadata", web.Handler(s.logger, s.spMetadata))
	mux.Handle("POST /saml/{org}/acs", web.Handler(s.logger, s.samlACS))
	mux.Handle("GET /sso/domains", s.member(authz.PermIntegrationsManage, s.listDomains))
	mux.Handle("POST /sso/domains", s.member(authz.PermIntegrationsManage, s.addDomain))
	mux.Handle("POST /sso/domains/{id}/verify", s.member(authz.PermIntegrationsManage, s.verifyDomain))
	mux.Handle("DELETE /sso/domains/{id}", s.member(authz.PermIntegrationsManage, s.deleteDomain))
	return d.Wrap(mux)
}

func newServer(d *bootstrap.Deps, cfg Config) (*server, error) {
	reg, err := provider.NewRegistry(append(provider.Builtin(), cfg.Defined...), cfg.Platforms)
	if err != nil {
		return nil, err
	}
	returns, err := returnurl.New(appOrigin(d, cfg), d.Config.AllowedOrigins)
	if err != nil {
		return nil, err
	}
	signInReturn := cfg.SignInReturnURL
	if signInReturn == "" {
		signInReturn = "/"
	}
	if signInReturn, err = returns.Check(signInReturn); err != nil {
		return nil, fmt.Errorf("GATEHOUSE_SIGNIN_RETURN_URL: must be a path on the app or a URL on an allowed origin: %w", err)
	}
	sessions, err := newSessions(d)
	if err != nil {
		return nil, err
	}
	client := cfg.Outbound
	if client == nil {
		client = outbound.New(outbound.Options{})
	}
	callers, err := newCallerAuth(cfg, client)
	if err != nil {
		return nil, err
	}
	client = client.WithTransport(d.Telemetry.Transport) // provider calls are spans of the request's trace
	s := &server{d: d, logger: d.Logger, registry: reg, returns: returns, sessions: sessions,
		states: oauthstate.New(d.Keyring, d.Now, d.Rand), authz: authz.New(d), client: client,
		callbackBase: cfg.CallbackBase, signInReturn: signInReturn, callers: callers,
		mfa: mfa.NewService(d.Store, d.Keyring, "Gatehouse", d.Now, d.Rand)}
	if s.linkBase = cfg.LinkBase; s.linkBase == "" {
		s.linkBase = d.Config.PublicURL.String() + "/auth/ui"
	}
	if s.callbackBase == "" {
		s.callbackBase = d.Config.PublicURL.String() + "/oauth"
	}
	if s.resolver, err = dnsproof.NewResolver(d.Config.DNSResolver); err != nil {
		return nil, err
	}
	s.broker = broker.New(d.Store, d.Keyring, reg, d.Audit, d.Logger, broker.Options{Client: client, Now: d.Now, Metrics: d.Telemetry.Metrics, Events: d.Events})
	s.signin = newSignIn(cfg, client, d.Now)
	return s, nil
}

// appOrigin is where relative return URLs resolve.
func appOrigin(d *bootstrap.Deps, cfg Config) string {
	switch {
	case cfg.AppURL != "":
		return cfg.AppURL
	case len(d.Config.AllowedOrigins) > 0:
		return d.Config.AllowedOrigins[0]
	default:
		u := d.Config.PublicURL
		return u.Scheme + "://" + u.Host
	}
}

// newSessions opens the session manager the auth function uses, over the
// same signing keys, so its access tokens and cookies are accepted here.
func newSessions(d *bootstrap.Deps) (*session.Manager, error) {
	signer, err := token.NewSigner(context.Background(), d.Store, d.Keyring,
		token.Options{Issuer: d.Config.PublicURL.String(), Now: d.Now, Rand: d.Rand})
	if err != nil {
		return nil, fmt.Errorf("open token signer: %w", err)
	}
	return session.New(d, signer, session.Config{AllowedOrigins: d.Config.AllowedOrigins,
		TrustedProxyHops: d.Config.TrustedProxyHops})
}

// member wraps h for organization routes (AUTHZ-2, AUTHZ-3): a session
// (bearer token or cookie with CSRF), then membership of the organization
// named by the "org" query parameter holding perm.
func (s *server) member(perm authz.Permission, h web.HandlerFunc) http.Handler {
	return s.sessions.Authenticate(s.authz.Require(perm, authz.OrgFromQuery("org"))(web.Handler(s.logger, h)))
}

// callbackURL is the redirect URI registered at the platform.
func (s *server) callbackURL(platform string) string {
	return s.callbackBase + "/callback/" + platform
}
