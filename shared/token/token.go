// Package token signs and verifies Gatehouse access tokens: EdDSA (Ed25519)
// JWTs of at most ten minutes that name a session, signed with keys kept in
// the store (private halves sealed with the envelope, purpose signing-key)
// and published as a JWKS until every token they signed has expired.
//
// Why Ed25519: small keys and signatures, fast verification, deterministic
// signatures (no per-signature randomness to get wrong), and one algorithm
// only, so there is no algorithm confusion: the verifier accepts "EdDSA"
// and nothing else.
package token

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gatehouse-dev/gatehouse/shared/envelope"
	"github.com/gatehouse-dev/gatehouse/shared/events"
	"github.com/gatehouse-dev/gatehouse/shared/store"
)

// MaxTTL is the longest an access token may live.
const MaxTTL = 10 * time.Minute

// Errors. Compare with [errors.Is].
var (
	// ErrInvalid means the token is malformed, forged, expired, not yet
	// valid, for another issuer or audience, or signed by an unknown key.
	ErrInvalid = errors.New("token: invalid")
	// ErrUnavailable means the keys could not be loaded (store or KMS
	// down); the request must be denied, not waved through.
	ErrUnavailable = errors.New("token: keys unavailable")
)

// Claims are what an access token asserts.
type Claims struct {
	Subject   string // user id
	SessionID string
	IssuedAt  time.Time
	ExpiresAt time.Time
	KeyID     string // set by Sign and Verify
	// Org is set on an organization-scoped token: the member's standing
	// in one organization when the token was signed.
	Org *Org
}

// Org is the organization claims of an organization-scoped token. They are
// a snapshot: a role change shows in the next token signed, and at once
// through introspection, which reads the membership again.
type Org struct {
	ID          string   // "org_id"
	Role        string   // "role"
	Permissions []string // "permissions"
}

// jwtClaims is the JWT body: registered claims plus "sid" (OpenID Connect
// session id claim) and, on organization-scoped tokens, "org_id", "role"
// and "permissions".
type jwtClaims struct {
	jwt.RegisteredClaims
	SessionID   string   `json:"sid"`
	OrgID       string   `json:"org_id,omitempty"`
	Role        string   `json:"role,omitempty"`
	Permissions []string `json:"permissions,omitzero"`
}

// Options configure a [Signer].
type Options struct {
	Issuer   string        // "iss"; required
	Audience string        // "aud"; "gatehouse" when empty
	TTL      time.Duration // access-token lifetime, 1s..MaxTTL; MaxTTL when zero
	// PublishDelay is how long a key from [Signer.Rotate] is published
	// before it signs, so every verifier has fetched it first. Default 15m.
	PublishDelay time.Duration
	// Reload is how often the key set is re-read from the store (keys
	// rotated by another process). Default 1m.
	Reload time.Duration
	Now    func() time.Time // time.Now when nil
	Rand   io.Reader        // crypto/rand when nil
	// VerifyOnly makes a Signer that only verifies: it never creates a
	// key, so a function that only checks tokens (webhooks) starts without
	// the KMS access that sealing a new private key needs, and Sign fails.
	VerifyOnly bool
	// Events, if set, announces each key [Signer.Rotate] makes
	// (key.rotated, docs/events.md) in the transaction that stores it.
	// NewSigner then needs a store that runs transactions (a
	// [store.Store]).
	Events *events.Emitter
}

// Signer signs and verifies access tokens. It is safe for concurrent use.
type Signer struct {
	store   store.SigningKeys
	keyring *envelope.Keyring
	opts    Options
	parser  *jwt.Parser

	mu       sync.RWMutex
	public   map[string]ed25519.PublicKey
	keys     []store.SigningKey // as loaded, oldest ActiveAt first
	private  map[string]ed25519.PrivateKey
	loadedAt time.Time
	reload   sync.Mutex // one reload at a time
}

// NewSigner loads the keys from s, creating the first one (active at once)
// if there is none.
func NewSigner(ctx context.Context, s store.SigningKeys, kr *envelope.Keyring, o Options) (*Signer, error) {
	if err := defaults(&o); err != nil {
		return nil, err
	}
	if _, ok := s.(txStore); o.Events != nil && !ok {
		return nil, errors.New("token: Events needs a store that runs transactions")
	}
	sg := &Signer{store: s, keyring: kr, opts: o, private: map[string]ed25519.PrivateKey{}}
	sg.parser = jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg()}),
		jwt.WithIssuer(o.Issuer), jwt.WithAudience(o.Audience),
		jwt.WithExpirationRequired(), jwt.WithIssuedAt(), jwt.WithTimeFunc(o.Now), jwt.WithStrictDecoding())
	if err := sg.load(ctx); err != nil {
		return nil, err
	}
	if len(sg.keys) == 0 && !o.VerifyOnly {
		if err := sg.create(ctx, o.Now(), false); err != nil {
			return nil, err
		}
	}
	return sg, nil
}

func defaults(o *Options) error {
	if o.Issuer == "" {
		return errors.New("token: an issuer is required")
	}
	if o.Audience == "" {
		o.Audience = "gatehouse"
	}
	if o.TTL == 0 {
		o.TTL = MaxTTL
	}
	if o.TTL < time.Second || o.TTL > MaxTTL {
		return fmt.Errorf("token: TTL %s is outside 1s..%s", o.TTL, MaxTTL)
	}
	if o.PublishDelay == 0 {
		o.PublishDelay = 15 * time.Minute
	}
	if o.PublishDelay < 2*jwksMaxAge*time.Second {
		return fmt.Errorf("token: publish delay %s is shorter than twice the JWKS cache age", o.PublishDelay)
	}
	if o.Reload == 0 {
		o.Reload = time.Minute
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
	return nil
}

// Issuer returns the "iss" of the tokens this Signer signs and accepts.
func (s *Signer) Issuer() string { return s.opts.Issuer }

// Audience returns the "aud" of the tokens this Signer signs and accepts.
func (s *Signer) Audience() string { return s.opts.Audience }

// TTL returns the access-token lifetime.
func (s *Signer) TTL() time.Duration { return s.opts.TTL }

// Sign returns a token for c.Subject and c.SessionID (and c.Org, if set),
// issued now and expiring after the TTL, signed by the newest active key.
// It fills in the returned Claims' times and KeyID.
func (s *Signer) Sign(ctx context.Context, c Claims) (string, Claims, error) {
	if s.opts.VerifyOnly {
		return "", c, errors.New("token: this signer only verifies")
	}
	now := s.opts.Now()
	if err := s.maybeReload(ctx, now); err != nil {
		return "", c, err
	}
	id, priv, err := s.signingKey(ctx, now)
	if err != nil {
		return "", c, err
	}
	c.IssuedAt, c.ExpiresAt, c.KeyID = now.Truncate(time.Second), now.Truncate(time.Second).Add(s.opts.TTL), id
	body := jwtClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: s.opts.Issuer, Subject: c.Subject, Audience: jwt.ClaimStrings{s.opts.Audience},
			IssuedAt: jwt.NewNumericDate(c.IssuedAt), ExpiresAt: jwt.NewNumericDate(c.ExpiresAt),
		},
		SessionID: c.SessionID,
	}
	if c.Org != nil {
		if c.Org.ID == "" || c.Org.Role == "" {
			return "", c, errors.New("token: organization claims need an id and a role")
		}
		body.OrgID, body.Role, body.Permissions = c.Org.ID, c.Org.Role, nonNil(c.Org.Permissions)
	}
	t := jwt.NewWithClaims(jwt.SigningMethodEdDSA, body)
	t.Header["kid"] = id
	signed, err := t.SignedString(priv)
	if err != nil {
		return "", c, fmt.Errorf("sign access token: %w", err)
	}
	return signed, c, nil
}

// Verify checks the token's signature against a published key and its
// claims (issuer, audience, issued-at, expiry at now, a subject and a
// session id). It returns [ErrInvalid] or [ErrUnavailable], wrapped.
func (s *Signer) Verify(ctx context.Context, tok string) (Claims, error) {
	var loadErr error
	var kid string
	var claims jwtClaims
	_, err := s.parser.ParseWithClaims(tok, &claims, func(t *jwt.Token) (any, error) {
		kid, _ = t.Header["kid"].(string)
		key, err := s.publicKey(ctx, kid)
		loadErr = err
		return key, err
	})
	switch {
	case loadErr != nil && errors.Is(loadErr, ErrUnavailable):
		return Claims{}, loadErr
	case err != nil:
		return Claims{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	case claims.Subject == "" || claims.SessionID == "":
		return Claims{}, fmt.Errorf("%w: missing sub or sid", ErrInvalid)
	case (claims.OrgID == "") != (claims.Role == ""):
		return Claims{}, fmt.Errorf("%w: org_id and role go together", ErrInvalid)
	}
	c := Claims{Subject: claims.Subject, SessionID: claims.SessionID, KeyID: kid,
		IssuedAt: claims.IssuedAt.Time, ExpiresAt: claims.ExpiresAt.Time}
	if claims.OrgID != "" {
		c.Org = &Org{ID: claims.OrgID, Role: claims.Role, Permissions: claims.Permissions}
	}
	return c, nil
}

// nonNil returns s, or an empty slice for nil, so "permissions" is always
// a list on an organization-scoped token.
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
