// Package session manages Gatehouse sign-in sessions: stateful rows in the
// store, short-lived EdDSA access tokens bound to them (checked against
// the row, or against a cache of it that the store's revocation channel
// keeps current, on every request, so revocation is immediate), opaque refresh
// tokens stored hashed and rotated on every use with reuse detection, the
// two client modes (API clients with JSON tokens and bearer headers,
// browsers with __Host- cookies and double-submit CSRF), new-device alerts,
// step-up authentication, the MFA hand-off, and the rate limits and
// progressive lockout that guard every sign-in step.
package session

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/audit"
	"github.com/gatehouse-dev/gatehouse/shared/bootstrap"
	"github.com/gatehouse-dev/gatehouse/shared/envelope"
	"github.com/gatehouse-dev/gatehouse/shared/events"
	"github.com/gatehouse-dev/gatehouse/shared/notify"
	"github.com/gatehouse-dev/gatehouse/shared/ratelimit"
	"github.com/gatehouse-dev/gatehouse/shared/sessioncache"
	"github.com/gatehouse-dev/gatehouse/shared/store"
	"github.com/gatehouse-dev/gatehouse/shared/telemetry"
	"github.com/gatehouse-dev/gatehouse/shared/timetext"
	"github.com/gatehouse-dev/gatehouse/shared/token"
	"github.com/gatehouse-dev/gatehouse/shared/web"
)

// Principal is the authenticated caller, put in the request context by
// [Manager.Authenticate].
type Principal struct {
	UserID    string
	SessionID string
	AuthTime  time.Time // last time the user proved who they are
	Methods   []string  // RFC 8176 amr values of that authentication
	Level     int       // 1 single factor, 2 multi-factor
	Started   time.Time // when the session began
	LastSeen  time.Time // when the session was last refreshed (as cached: may lag; re-read before refusing)
	// LongestIdle is the longest recorded gap between the session's
	// refreshes (see [MinRecordedIdle]).
	LongestIdle time.Duration
	// Token holds the access token's claims as signed; Token.Org is set
	// on an organization-scoped token (a snapshot: Gatehouse's own routes
	// read memberships from the store).
	Token token.Claims
}

type principalKey struct{}

// FromContext returns the Principal of an authenticated request.
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// WithPrincipal returns ctx carrying p (for tests of handlers that sit
// behind [Manager.Authenticate]).
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// Config holds the session settings. Zero durations take the defaults
// noted on each field.
type Config struct {
	IdleTimeout     time.Duration // 24h: a session unused (not refreshed) this long ends
	AbsoluteTimeout time.Duration // 30 days: a session ends this long after sign-in, whatever happens
	// RefreshGrace: a refresh token rotated this recently may be presented
	// once more and gets the same successor (concurrent tabs). 10s; a
	// negative value disables the grace.
	RefreshGrace    time.Duration
	StepUpWindow    time.Duration // 10m: sensitive actions need an authentication this recent
	MFATokenTTL     time.Duration // 5m
	NewDeviceWindow time.Duration // 90 days: a (device, network) pair unseen this long is new
	// AllowedOrigins are the browser origins allowed to use cookie mode.
	AllowedOrigins   []string
	TrustedProxyHops int
	// Orgs reads memberships for organization-scoped tokens; nil refuses
	// them (400 organization_unsupported).
	Orgs Orgs
	// Lockout is the progressive lockout; the zero value means
	// [DefaultLockout].
	Lockout Lockout
}

func (c *Config) defaults() error {
	set := func(d *time.Duration, def time.Duration) {
		if *d == 0 {
			*d = def
		}
	}
	set(&c.IdleTimeout, 24*time.Hour)
	set(&c.AbsoluteTimeout, 30*24*time.Hour)
	set(&c.RefreshGrace, 10*time.Second)
	set(&c.StepUpWindow, 10*time.Minute)
	set(&c.MFATokenTTL, 5*time.Minute)
	set(&c.NewDeviceWindow, 90*24*time.Hour)
	if c.Lockout == (Lockout{}) {
		c.Lockout = DefaultLockout
	}
	switch {
	case c.IdleTimeout < time.Minute || c.IdleTimeout > c.AbsoluteTimeout:
		return fmt.Errorf("session: idle timeout %s must be between 1 minute and the absolute timeout %s", timetext.Duration(c.IdleTimeout), timetext.Duration(c.AbsoluteTimeout))
	case c.RefreshGrace > time.Minute:
		return fmt.Errorf("session: refresh grace %s is over a minute", timetext.Duration(c.RefreshGrace))
	case c.StepUpWindow < time.Minute || c.StepUpWindow > time.Hour:
		return fmt.Errorf("session: step-up window %s must be between 1 minute and 1 hour", timetext.Duration(c.StepUpWindow))
	case c.MFATokenTTL < time.Minute || c.MFATokenTTL > 15*time.Minute:
		return fmt.Errorf("session: MFA token lifetime %s must be between 1 minute and 15 minutes", timetext.Duration(c.MFATokenTTL))
	case c.Lockout.Threshold < 1 || c.Lockout.Base <= 0 || c.Lockout.Max < c.Lockout.Base || c.Lockout.Window <= 0:
		return fmt.Errorf("session: lockout %+v needs a positive threshold, base and window and a maximum of at least the base", c.Lockout)
	}
	return nil
}

// Manager creates, checks and ends sessions. It is safe for concurrent use.
type Manager struct {
	cfg      Config
	store    store.Store
	signer   *token.Signer
	keyring  *envelope.Keyring
	audit    *audit.Log
	limiter  *ratelimit.Limiter
	notifier notify.Notifier
	logger   *slog.Logger
	metrics  *telemetry.Metrics
	now      func() time.Time
	rand     io.Reader
	cache    *sessioncache.Cache // nil when the store has no session feed
	events   *events.Emitter
}

// New returns a Manager on d, signing access tokens with signer. When the
// store announces session changes ([store.SessionFeed]), the Manager
// keeps the session state of access-token checks in a cache that the feed
// keeps current (see [Manager.Check]); the watch ends when the store is
// closed.
func New(d *bootstrap.Deps, signer *token.Signer, cfg Config) (*Manager, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	t := d.Telemetry
	if t == nil {
		t = telemetry.Nop()
	}
	m := &Manager{cfg: cfg, store: d.Store, signer: signer, keyring: d.Keyring, audit: d.Audit,
		limiter: d.Limiter, notifier: d.Notifier, logger: d.Logger, metrics: t.Metrics, now: d.Now, rand: d.Rand,
		events: d.Events}
	if feed, ok := d.Store.(store.SessionFeed); ok {
		m.cache = sessioncache.New(0, nil)
		feed.WatchSessions(m.cache)
	}
	return m, nil
}

// CacheStats returns the session cache's counters (zero without a cache).
func (m *Manager) CacheStats() sessioncache.Stats {
	if m.cache == nil {
		return sessioncache.Stats{}
	}
	return m.cache.Stats()
}

// Config returns the effective configuration.
func (m *Manager) Config() Config { return m.cfg }

// Signer returns the access-token signer.
func (m *Manager) Signer() *token.Signer { return m.signer }

// Errors written to clients.
var (
	errUnauthenticated = web.Unauthorized("unauthenticated", "Authentication required.")
	errInvalidToken    = web.Unauthorized("invalid_token", "The token is invalid or expired.")
	errInvalidGrant    = web.Unauthorized("invalid_grant", "The refresh token is invalid or expired.")
	errReauth          = &web.Error{Status: http.StatusForbidden, Code: "reauthentication_required",
		Message: "Please confirm your identity again to continue."}
)

// RequireRecentAuth returns nil if the request's Principal authenticated
// within the step-up window, a 401 if there is no Principal, and otherwise
// a 403 *web.Error with code "reauthentication_required" (the client
// calls POST /reauthenticate, then retries).
func (m *Manager) RequireRecentAuth(ctx context.Context) error {
	p, ok := FromContext(ctx)
	if !ok {
		return errUnauthenticated
	}
	if m.now().Sub(p.AuthTime) > m.cfg.StepUpWindow {
		return errReauth
	}
	return nil
}

// mfaMethods are the amr values that are a second factor.
var mfaMethods = []string{"otp", "hwk", "swk", "rc", "mfa"}

// level returns 2 if methods include a second factor, else 1. A second
// factor is only ever accepted after a first, so it alone means MFA.
func level(methods []string) int {
	for _, m := range methods {
		if slices.Contains(mfaMethods, m) {
			return 2
		}
	}
	return 1
}

// unavailable turns a dependency failure into a 503, keeping web errors.
func unavailable(err error) error {
	var we *web.Error
	if errors.As(err, &we) {
		return err
	}
	return web.Unavailable(err)
}

// IdleTimeout is the global idle timeout: an organization's own may only
// be shorter.
func (m *Manager) IdleTimeout() time.Duration { return m.cfg.IdleTimeout }

// AbsoluteTimeout is the global absolute session lifetime: an
// organization's maximum session age may only be shorter.
func (m *Manager) AbsoluteTimeout() time.Duration { return m.cfg.AbsoluteTimeout }
