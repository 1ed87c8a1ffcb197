// Package auth is the Auth HTTP function: accounts, passwords, MFA, sessions, organizations and roles, audit read, data export and deletion.
// Locally it is mounted by `gatehouse serve`; on Cloud Run the Functions
// Framework serves the entry point registered in init.
//
// This file and the files named after the core routes (accounts, login,
// passwords, me, sessions) are the core half; extension.go builds the MFA,
// organizations and audit-read half and hands it back as an [Extension].
package auth

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/gatehouse-dev/gatehouse/functions/auth/ui"
	"github.com/gatehouse-dev/gatehouse/shared/authz"
	"github.com/gatehouse-dev/gatehouse/shared/bootstrap"
	"github.com/gatehouse-dev/gatehouse/shared/config"
	"github.com/gatehouse-dev/gatehouse/shared/operator"
	"github.com/gatehouse-dev/gatehouse/shared/password"
	"github.com/gatehouse-dev/gatehouse/shared/returnurl"
	"github.com/gatehouse-dev/gatehouse/shared/session"
	"github.com/gatehouse-dev/gatehouse/shared/store"
	"github.com/gatehouse-dev/gatehouse/shared/timetext"
	"github.com/gatehouse-dev/gatehouse/shared/token"
	"github.com/gatehouse-dev/gatehouse/shared/web"
)

func init() {
	bootstrap.HTTP("Auth", func(d *bootstrap.Deps, l *config.Loader) (http.Handler, error) {
		return New(d, LoadConfig(l))
	})
}

// Extension is the MFA, organizations and audit-read half of the function,
// built by newExtension in extension.go.
type Extension interface {
	// Register adds the extension's routes to mux.
	Register(mux *http.ServeMux)
	MFA
	UserData
}

// MFA is what the core needs to know about a user's second factors.
type MFA interface {
	// Methods lists the second factors the user has enrolled ("totp",
	// "webauthn", "recovery_code"); empty means the user has no MFA.
	Methods(ctx context.Context, userID string) ([]string, error)
	// ProfileMethods is Methods from a profile the core already read
	// (GET /me reads everything it shows in one round trip).
	ProfileMethods(p store.Profile) []string
	// StepUp verifies a second factor presented to POST /reauthenticate.
	// method is "totp", "recovery_code" or "webauthn"; proof is the raw
	// JSON of the request's "proof" field. A failed check returns a 401
	// *web.Error with code "invalid_credentials".
	StepUp(ctx context.Context, r *http.Request, userID, method string, proof json.RawMessage) error
}

// UserData is the extension's share of a user's data.
type UserData interface {
	// Export returns everything the extension keeps about the user,
	// secrets excluded.
	Export(ctx context.Context, userID string) (map[string]any, error)
	// BeforeDelete removes the extension's data of the user inside the
	// account deletion's transaction tx; by is who deletes the account
	// ("user" or "operator", for the events it emits). It returns a 409
	// *web.Error with code "sole_owner" when the user is the sole owner of
	// an organization.
	BeforeDelete(ctx context.Context, tx store.Store, userID, by string) error
}

// Config holds the function's own settings. The zero Config is usable:
// every zero field takes its default.
type Config struct {
	Argon2        password.Params // OWASP defaults when zero
	MaxConcurrent int             // simultaneous password hashes; GOMAXPROCS when zero
	Pepper        config.Secret   // optional password pepper
	MinScore      int             // zxcvbn score new passwords must reach; 2 when zero
	AccessTTL     time.Duration   // access-token lifetime, at most 10m; 10m when zero
	Session       session.Config  // timeouts, grace, step-up window; origins come from the base config
	ResetTTL      time.Duration   // password-reset link lifetime; 30m when zero
	MagicLinkTTL  time.Duration   // magic-link lifetime, at most 10m (AUTH-15); 10m when zero
	SignupTTL     time.Duration   // sign-up confirmation link lifetime; 24h when zero
	// LinkBase is where e-mailed links point: the hosted pages
	// (the public URL + "/auth/ui") unless GATEHOUSE_AUTH_LINK_URL names
	// the SaaS's own pages.
	LinkBase *url.URL
	// IntrospectionClients are the backends allowed RFC 7662
	// introspection: comma-separated id:secret pairs (see parseClients).
	IntrospectionClients config.Secret
	Extension            ExtensionConfig
	UI                   ui.Config       // the hosted pages' theme (functions/auth/ui)
	Admin                operator.Config // who may call the admin API (see admin.go)
}

// LoadConfig reads the function's settings, recording problems in l.
func LoadConfig(l *config.Loader) Config {
	c := Config{
		Argon2:        loadArgon2(l),
		MaxConcurrent: l.Int("GATEHOUSE_PASSWORD_MAX_CONCURRENT", 0),
		Pepper:        l.OptionalSecret("GATEHOUSE_PASSWORD_PEPPER"),
		MinScore:      l.Int("GATEHOUSE_PASSWORD_MIN_SCORE", password.DefaultPolicy.MinScore),
		AccessTTL:     l.Duration("GATEHOUSE_ACCESS_TOKEN_TTL", token.MaxTTL),
		Session: session.Config{
			IdleTimeout:     l.Duration("GATEHOUSE_SESSION_IDLE_TIMEOUT", 24*time.Hour),
			AbsoluteTimeout: l.Duration("GATEHOUSE_SESSION_ABSOLUTE_TIMEOUT", 30*24*time.Hour),
			RefreshGrace:    l.Duration("GATEHOUSE_REFRESH_GRACE", 10*time.Second),
			StepUpWindow:    l.Duration("GATEHOUSE_STEP_UP_WINDOW", 10*time.Minute),
			NewDeviceWindow: l.Duration("GATEHOUSE_NEW_DEVICE_WINDOW", 90*24*time.Hour),
			Lockout:         loadLockout(l),
		},
		ResetTTL:             l.Duration("GATEHOUSE_PASSWORD_RESET_TTL", 30*time.Minute),
		MagicLinkTTL:         l.Duration("GATEHOUSE_MAGIC_LINK_TTL", MaxMagicLinkTTL),
		SignupTTL:            l.Duration("GATEHOUSE_SIGNUP_TTL", 24*time.Hour),
		LinkBase:             l.URL("GATEHOUSE_AUTH_LINK_URL", ""),
		IntrospectionClients: l.OptionalSecret("GATEHOUSE_INTROSPECTION_CLIENTS"),
		Extension:            loadExtensionConfig(l),
		UI:                   ui.LoadConfig(l),
		Admin:                loadAdminConfig(l),
	}
	c.validate(l)
	return c
}

// Bounds of the Argon2id settings, checked on the integers read before they
// are narrowed to [password.Params]' fields.
const (
	maxArgon2MemoryKiB = 4 << 20 // 4 GiB
	maxArgon2Time      = 64
	maxArgon2Threads   = 64
)

// loadArgon2 reads the Argon2id settings. Each is range-checked as an int
// before its conversion, so a value past its field's type cannot wrap
// around into an accepted one (GATEHOUSE_ARGON2_MEMORY_KIB=4294986752 is
// 19456 as a uint32); a value out of range is recorded in l, which stops
// the start, and the defaults are returned.
func loadArgon2(l *config.Loader) password.Params {
	def := password.DefaultParams
	memory := l.Int("GATEHOUSE_ARGON2_MEMORY_KIB", int(def.Memory))
	iterations := l.Int("GATEHOUSE_ARGON2_TIME", int(def.Time))
	threads := l.Int("GATEHOUSE_ARGON2_THREADS", int(def.Threads))
	ok := true
	check := func(name string, v, lo, hi int) {
		if v < lo || v > hi {
			l.Fail(name, fmt.Sprintf("must be between %d and %d", lo, hi))
			ok = false
		}
	}
	check("GATEHOUSE_ARGON2_MEMORY_KIB", memory, int(def.Memory), maxArgon2MemoryKiB)
	check("GATEHOUSE_ARGON2_TIME", iterations, 1, maxArgon2Time)
	check("GATEHOUSE_ARGON2_THREADS", threads, 1, maxArgon2Threads)
	if !ok {
		return def
	}
	return password.Params{Memory: uint32(memory), Time: uint32(iterations), Threads: uint8(threads)}
}

func (c Config) validate(l *config.Loader) {
	if err := c.Argon2.Validate(); err != nil {
		l.Fail("GATEHOUSE_ARGON2_MEMORY_KIB", err.Error())
	}
	if c.MinScore < 0 || c.MinScore > 4 {
		l.Fail("GATEHOUSE_PASSWORD_MIN_SCORE", "must be between 0 and 4")
	}
	l.CheckDuration("GATEHOUSE_ACCESS_TOKEN_TTL", c.AccessTTL, time.Minute, token.MaxTTL)
	l.CheckDuration("GATEHOUSE_PASSWORD_RESET_TTL", c.ResetTTL, time.Minute, 2*time.Hour)
	l.CheckDuration("GATEHOUSE_MAGIC_LINK_TTL", c.MagicLinkTTL, time.Minute, MaxMagicLinkTTL)
	l.CheckDuration("GATEHOUSE_SIGNUP_TTL", c.SignupTTL, time.Minute, 72*time.Hour)
	if _, err := parseClients(c.IntrospectionClients); err != nil {
		l.Fail("GATEHOUSE_INTROSPECTION_CLIENTS", err.Error())
	}
}

// loadLockout reads the progressive lockout. In staging and prod it must
// protect at least as much as the bounds docs/auth.md states; dev accepts
// any consistent setting.
func loadLockout(l *config.Loader) session.Lockout {
	def := session.DefaultLockout
	lo := session.Lockout{
		Threshold: l.Int("GATEHOUSE_LOCKOUT_THRESHOLD", def.Threshold),
		Base:      l.Duration("GATEHOUSE_LOCKOUT_BASE", def.Base),
		Max:       l.Duration("GATEHOUSE_LOCKOUT_MAX", def.Max),
		Window:    l.Duration("GATEHOUSE_LOCKOUT_WINDOW", def.Window),
	}
	if !l.Env().Deployed() {
		if lo.Threshold < 1 || lo.Base < time.Second || lo.Max < lo.Base || lo.Window < time.Minute {
			l.Fail("GATEHOUSE_LOCKOUT_THRESHOLD", "the lockout needs a threshold of at least 1, a first lock of at least 1 second, a longest lock of at least the first and a window of at least 1 minute")
		}
		return lo
	}
	if lo.Threshold < 3 || lo.Threshold > 20 {
		l.Fail("GATEHOUSE_LOCKOUT_THRESHOLD", "must be between 3 and 20 in staging and prod")
	}
	l.CheckDuration("GATEHOUSE_LOCKOUT_BASE", lo.Base, time.Second, time.Hour)
	l.CheckDuration("GATEHOUSE_LOCKOUT_MAX", lo.Max, max(lo.Base, time.Second), 24*time.Hour)
	l.CheckDuration("GATEHOUSE_LOCKOUT_WINDOW", lo.Window, 10*time.Minute, 24*time.Hour)
	return lo
}

// MaxMagicLinkTTL is the longest a magic link may live, and its default
// lifetime (AUTH-15).
const MaxMagicLinkTTL = 10 * time.Minute

// Server holds what the core routes share.
type Server struct {
	d         *bootstrap.Deps
	cfg       Config
	hasher    *password.Hasher
	policy    password.Policy
	signer    *token.Signer
	sessions  *session.Manager
	ext       Extension
	clients   clientSecrets // RFC 7662 introspection clients
	operators *operator.Verifier
}

// New returns the function's handler. Routes are relative to the
// function's URL.
func New(d *bootstrap.Deps, cfg Config) (http.Handler, error) {
	_, h, err := build(d, cfg, nil)
	return h, err
}

// build returns the server and its handler; ext, if not nil, replaces the
// extension newExtension would build (tests).
func build(d *bootstrap.Deps, cfg Config, ext Extension) (*Server, http.Handler, error) {
	s, err := newServer(d, cfg, ext)
	if err != nil {
		return nil, nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("GET /healthz", d.Health())
	s.routes(mux)
	s.ext.Register(mux)
	if err := s.registerUI(mux); err != nil {
		return nil, nil, err
	}
	h, err := d.Wrap(mux)
	return s, h, err
}

func newServer(d *bootstrap.Deps, cfg Config, ext Extension) (*Server, error) {
	cfg = withDefaults(d, cfg)
	if cfg.MagicLinkTTL > MaxMagicLinkTTL {
		return nil, fmt.Errorf("magic-link lifetime %s is over %s", timetext.Duration(cfg.MagicLinkTTL), timetext.Duration(MaxMagicLinkTTL))
	}
	hasher, err := password.New(password.Options{Params: cfg.Argon2, Pepper: cfg.Pepper,
		MaxConcurrent: cfg.MaxConcurrent, Rand: d.Rand, Tracer: d.Telemetry.Tracer("github.com/gatehouse-dev/gatehouse/shared/password")})
	if err != nil {
		return nil, fmt.Errorf("password hasher: %w", err)
	}
	signer, err := token.NewSigner(context.Background(), d.Store, d.Keyring, token.Options{
		Issuer: d.Config.PublicURL.String(), TTL: cfg.AccessTTL, Now: d.Now, Rand: d.Rand})
	if err != nil {
		return nil, fmt.Errorf("token signer: %w", err)
	}
	cfg.Session.Orgs = orgClaims{authz.New(d)}
	sessions, err := session.New(d, signer, cfg.Session)
	if err != nil {
		return nil, err
	}
	if ext == nil {
		if ext, err = newExtension(d, cfg.Extension, sessions); err != nil {
			return nil, fmt.Errorf("auth extension: %w", err)
		}
	}
	clients, err := parseClients(cfg.IntrospectionClients)
	if err != nil {
		return nil, fmt.Errorf("GATEHOUSE_INTROSPECTION_CLIENTS: %w", err)
	}
	admin := cfg.Admin
	if admin.Now == nil {
		admin.Now = d.Now
	}
	operators, err := operator.New(admin, d.Config.Env)
	if err != nil {
		return nil, fmt.Errorf("admin API: %w", err)
	}
	policy := password.DefaultPolicy
	policy.MinScore = cfg.MinScore
	return &Server{d: d, cfg: cfg, hasher: hasher, policy: policy, signer: signer, sessions: sessions, ext: ext,
		clients: clients, operators: operators}, nil
}

func withDefaults(d *bootstrap.Deps, c Config) Config {
	def := func(v *time.Duration, x time.Duration) {
		if *v == 0 {
			*v = x
		}
	}
	def(&c.AccessTTL, token.MaxTTL)
	def(&c.ResetTTL, 30*time.Minute)
	def(&c.MagicLinkTTL, MaxMagicLinkTTL)
	def(&c.SignupTTL, 24*time.Hour)
	if c.MinScore == 0 {
		c.MinScore = password.DefaultPolicy.MinScore
	}
	c.Session.AllowedOrigins = pageOrigins(d)
	c.Session.TrustedProxyHops = d.Config.TrustedProxyHops
	if c.LinkBase == nil && d.Config.PublicURL != nil {
		c.LinkBase = d.Config.PublicURL.JoinPath(UIPath)
	}
	if c.Extension.InvitationURL == "" && c.LinkBase != nil {
		c.Extension.InvitationURL = c.LinkBase.JoinPath("invitations/accept").String()
	}
	return c
}

// UIPath is where the hosted pages are served, under the public URL: the
// Auth function's /ui/, which the load balancer and `gatehouse serve`
// mount under /auth/.
const UIPath = "/auth/ui"

// publicOrigin returns the origin of the public URL, where the hosted
// pages are served.
func publicOrigin(d *bootstrap.Deps) string {
	return d.Config.PublicURL.Scheme + "://" + d.Config.PublicURL.Host
}

// pageOrigins returns the origins browser-mode requests may come from:
// the allowed origins and the hosted pages' own.
func pageOrigins(d *bootstrap.Deps) []string {
	out := append([]string{}, d.Config.AllowedOrigins...)
	if d.Config.PublicURL != nil && !slices.Contains(out, publicOrigin(d)) {
		out = append(out, publicOrigin(d))
	}
	return out
}

// registerUI adds the hosted pages (functions/auth/ui). After sign-in
// they send the user to a return URL that the return-URL policy accepts:
// a path on the app (the first allowed origin, else the public URL's
// origin) or an absolute URL on an allowed origin or the public one.
func (s *Server) registerUI(mux *http.ServeMux) error {
	var returns *returnurl.Policy
	if origins := pageOrigins(s.d); len(origins) > 0 {
		var err error
		if returns, err = returnurl.New(origins[0], origins[1:]); err != nil {
			return err
		}
	}
	pages, err := ui.New(s.cfg.UI, ui.Options{Logger: s.d.Logger, Rand: s.d.Rand, Returns: returns,
		Authenticate: s.sessions.Authenticate})
	if err != nil {
		return fmt.Errorf("hosted pages: %w", err)
	}
	pages.Register(mux)
	return nil
}

// routes registers the core routes.
func (s *Server) routes(mux *http.ServeMux) {
	h := func(f web.HandlerFunc) http.Handler { return web.Handler(s.d.Logger, f) }
	authed := func(f web.HandlerFunc) http.Handler { return s.sessions.Authenticate(h(f)) }
	mux.Handle("POST /register", h(s.handleRegister))
	mux.Handle("POST /register/confirm", h(s.handleRegisterConfirm))
	mux.Handle("POST /login", h(s.handleLogin))
	mux.Handle("POST /magic-link", h(s.handleMagicLink))
	mux.Handle("POST /magic-link/verify", h(s.handleMagicLinkVerify))
	mux.Handle("POST /password/reset", h(s.handleResetRequest))
	mux.Handle("POST /password/reset/confirm", h(s.handleResetConfirm))
	mux.Handle("POST /password/change", authed(s.handlePasswordChange))
	mux.Handle("POST /token", h(s.sessions.Refresh))
	mux.Handle("POST /logout", authed(s.sessions.Logout))
	mux.Handle("POST /logout/all", authed(s.sessions.LogoutAll))
	mux.Handle("GET /sessions", authed(s.handleSessions))
	mux.Handle("DELETE /sessions/{id}", authed(s.handleSessionDelete))
	mux.Handle("POST /reauthenticate", authed(s.handleReauthenticate))
	mux.Handle("GET /me", authed(s.handleMe))
	mux.Handle("GET /me/export", authed(s.handleExport))
	mux.Handle("GET /identities", authed(s.handleIdentities))
	mux.Handle("DELETE /identities/{id}", authed(s.handleIdentityDelete))
	mux.Handle("DELETE /me", authed(s.handleDeleteMe))
	mux.Handle("POST /introspect", h(s.handleIntrospect))
	mux.Handle("POST /token/introspect", web.OAuthHandler(s.d.Logger, s.handleIntrospectRFC7662))
	mux.Handle("POST /token/revoke", web.OAuthHandler(s.d.Logger, s.handleRevoke))
	mux.Handle("GET /.well-known/jwks.json", s.signer.Handler(s.d.Logger))
	mux.Handle("GET /.well-known/openid-configuration", h(s.handleMetadata))
	mux.Handle("GET /.well-known/oauth-authorization-server", h(s.handleMetadata))
	s.adminRoutes(mux)
}
