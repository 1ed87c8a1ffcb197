// Package verify checks Gatehouse access tokens in the SaaS's own Go
// services: EdDSA JWTs verified against the issuer's cached JWKS (iss, aud,
// exp, nbf and iat checked), optionally RFC 7662 introspection for routes
// that must see a revocation at once, net/http middleware, and helpers to
// require an organization permission from organization-scoped tokens.
//
// It speaks only HTTP and JWKS to Gatehouse and imports nothing of its
// server, so a service that imports it does not pull in databases or
// cloud clients:
//
//	v, err := verify.New(verify.Config{Issuer: "https://auth.example.com"})
//	mux.Handle("GET /reports", v.Middleware(verify.RequirePermission("read")(reports)))
//
// A locally verified token may outlive a sign-out or a role change by up
// to its remaining lifetime (at most 10 minutes); [Verifier.Introspect]
// and [Verifier.IntrospectMiddleware] close that window at the cost of a
// request to Gatehouse (cached for at most [Config.IntrospectionCacheTTL]).
package verify

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Config configures a [Verifier]. Only Issuer is required.
type Config struct {
	// Issuer is Gatehouse's issuer, its GATEHOUSE_PUBLIC_URL, e.g.
	// "https://auth.example.com"; tokens must carry it as "iss".
	Issuer string
	// Audience tokens must carry in "aud"; "gatehouse" when empty.
	Audience string
	// JWKSURL is where the keys are; Issuer + "/auth/.well-known/jwks.json"
	// when empty (the jwks_uri of the issuer's discovery document).
	JWKSURL string
	// HTTPClient fetches keys and introspects; a client with a 10 s
	// timeout when nil.
	HTTPClient *http.Client
	// Leeway tolerates clock skew on exp, nbf and iat; 30 s when zero, at
	// most one minute.
	Leeway time.Duration
	// KeysMaxAge is how long a fetched key set is used before it is
	// fetched again; 5 minutes when zero (Gatehouse publishes a new key
	// 15 minutes before it signs).
	KeysMaxAge time.Duration
	// MinRefetch is the least time between two fetches of the key set,
	// however many tokens name an unknown key; 10 s when zero.
	MinRefetch time.Duration
	// MaxKeys bounds the keys kept from one key set; 16 when zero.
	MaxKeys int

	// IntrospectionURL enables [Verifier.Introspect]: Gatehouse's RFC 7662
	// endpoint, Issuer + "/auth/token/introspect". ClientID and
	// ClientSecret are this service's entry in Gatehouse's
	// GATEHOUSE_INTROSPECTION_CLIENTS, sent as client_secret_basic.
	IntrospectionURL string
	ClientID         string
	ClientSecret     string
	// IntrospectionCacheTTL is how long an answer is reused for the same
	// token; 5 s when zero, at most 30 s; negative disables the cache.
	IntrospectionCacheTTL time.Duration

	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Claims are what a verified token asserts.
type Claims struct {
	Issuer    string
	Audience  []string
	Subject   string // the user id
	SessionID string // "sid"
	IssuedAt  time.Time
	ExpiresAt time.Time
	// Org is set for an organization-scoped token: the member's
	// organization, role and permissions when the token was signed, or, after
	// introspection, as they are now.
	Org *Org
}

// Org is the organization claims of an organization-scoped token.
type Org struct {
	ID          string
	Role        string
	Permissions []string
}

// Can reports whether the claims grant perm in an organization.
func (c *Claims) Can(perm string) bool {
	return c != nil && c.Org != nil && slices.Contains(c.Org.Permissions, perm)
}

// Verifier verifies access tokens. It is safe for concurrent use.
type Verifier struct {
	cfg   Config
	keys  *keySet
	cache *introspectionCache
}

// New returns a Verifier for cfg. It fetches nothing until the first token.
func New(cfg Config) (*Verifier, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	v := &Verifier{cfg: cfg, keys: &keySet{url: cfg.JWKSURL, client: cfg.HTTPClient, now: cfg.Now,
		maxAge: cfg.KeysMaxAge, minRefetch: cfg.MinRefetch, maxKeys: cfg.MaxKeys}}
	if cfg.IntrospectionCacheTTL > 0 {
		v.cache = &introspectionCache{ttl: cfg.IntrospectionCacheTTL, now: cfg.Now, entries: map[[32]byte]cached{}}
	}
	return v, nil
}

func (c *Config) defaults() error {
	u, err := url.Parse(c.Issuer)
	if c.Issuer == "" || err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("verify: the issuer %q is not an absolute http(s) URL", c.Issuer)
	}
	base := strings.TrimSuffix(c.Issuer, "/") + "/auth"
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&c.Audience, "gatehouse")
	def(&c.JWKSURL, base+"/.well-known/jwks.json")
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	defDur := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	defDur(&c.Leeway, 30*time.Second)
	defDur(&c.KeysMaxAge, 5*time.Minute)
	defDur(&c.MinRefetch, 10*time.Second)
	defDur(&c.IntrospectionCacheTTL, 5*time.Second)
	if c.MaxKeys == 0 {
		c.MaxKeys = 16
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	switch {
	case c.Leeway < 0 || c.Leeway > time.Minute:
		return fmt.Errorf("verify: leeway %s is outside 0..1m", c.Leeway)
	case c.IntrospectionCacheTTL > 30*time.Second:
		return fmt.Errorf("verify: introspection cache TTL %s is over 30s", c.IntrospectionCacheTTL)
	case c.MinRefetch < 0 || c.KeysMaxAge < time.Second || c.MaxKeys < 1:
		return errors.New("verify: MinRefetch, KeysMaxAge and MaxKeys must be positive")
	case c.IntrospectionURL != "" && (c.ClientID == "" || c.ClientSecret == ""):
		return errors.New("verify: introspection needs a client id and secret")
	}
	return nil
}

// tokenClaims is the token's JSON body.
type tokenClaims struct {
	jwt.Claims
	SessionID   string    `json:"sid"`
	OrgID       string    `json:"org_id"`
	Role        string    `json:"role"`
	Permissions *[]string `json:"permissions"`
}

// maxTokenLen bounds what is parsed.
const maxTokenLen = 4096

// Verify checks tok's EdDSA signature against the issuer's keys and its
// claims: iss, aud, exp (required), nbf and iat (not in the future, within
// the leeway), sub and sid present, and organization claims complete if
// any. It returns the claims, or an error wrapping one of this package's
// sentinels.
func (v *Verifier) Verify(ctx context.Context, tok string) (*Claims, error) {
	if tok == "" {
		return nil, ErrNoToken
	}
	if len(tok) > maxTokenLen {
		return nil, fmt.Errorf("%w: over %d bytes", ErrMalformed, maxTokenLen)
	}
	parsed, err := jwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.EdDSA})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if len(parsed.Headers) != 1 {
		return nil, fmt.Errorf("%w: %d signatures", ErrMalformed, len(parsed.Headers))
	}
	key, err := v.keys.key(ctx, parsed.Headers[0].KeyID)
	if err != nil {
		return nil, err
	}
	var c tokenClaims
	if err := parsed.Claims(key, &c); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSignature, err)
	}
	if err := v.checkClaims(c); err != nil {
		return nil, err
	}
	out := &Claims{Issuer: c.Issuer, Audience: c.Audience, Subject: c.Subject, SessionID: c.SessionID,
		IssuedAt: c.IssuedAt.Time(), ExpiresAt: c.Expiry.Time()}
	if c.OrgID != "" {
		out.Org = &Org{ID: c.OrgID, Role: c.Role, Permissions: *c.Permissions}
	}
	return out, nil
}

// checkClaims applies the registered-claim checks and Gatehouse's own.
func (v *Verifier) checkClaims(c tokenClaims) error {
	if c.Expiry == nil {
		return fmt.Errorf("%w: no exp", ErrClaims)
	}
	err := c.Claims.ValidateWithLeeway(jwt.Expected{Issuer: v.cfg.Issuer, AnyAudience: jwt.Audience{v.cfg.Audience},
		Time: v.cfg.Now()}, v.cfg.Leeway)
	switch {
	case errors.Is(err, jwt.ErrExpired):
		return fmt.Errorf("%w: %w", ErrExpired, err)
	case errors.Is(err, jwt.ErrNotValidYet), errors.Is(err, jwt.ErrIssuedInTheFuture):
		return fmt.Errorf("%w: %w", ErrNotYetValid, err)
	case errors.Is(err, jwt.ErrInvalidIssuer):
		return fmt.Errorf("%w: %q", ErrIssuer, c.Issuer)
	case errors.Is(err, jwt.ErrInvalidAudience):
		return fmt.Errorf("%w: %q", ErrAudience, c.Audience)
	case err != nil:
		return fmt.Errorf("%w: %w", ErrClaims, err)
	case c.Subject == "" || c.SessionID == "":
		return fmt.Errorf("%w: no sub or sid", ErrClaims)
	case (c.OrgID == "") != (c.Role == "") || (c.OrgID != "") != (c.Permissions != nil):
		return fmt.Errorf("%w: org_id, role and permissions go together", ErrClaims)
	}
	return nil
}

// introspectionCache remembers recent introspection answers by the
// token's SHA-256, never the token itself.
type introspectionCache struct {
	ttl     time.Duration
	now     func() time.Time
	mu      sync.Mutex
	entries map[[32]byte]cached
}

type cached struct {
	claims *Claims // nil: inactive
	until  time.Time
}
