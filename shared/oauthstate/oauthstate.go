// Package oauthstate issues and verifies the OAuth state parameter
// (OAUTH-2): a token that is signed, expiring, bound to the browser that
// started the flow and, through the store, single use.
//
// A state is the flow's [State] as JSON, sealed with the envelope purpose
// "oauth-state" and base64url-encoded. AES-256-GCM under a purpose key
// (CRED-2) makes it both authentic (a changed byte fails to open) and
// opaque, which lets it carry the PKCE verifier: the verifier never appears
// in clear to the browser or the provider, and a stolen code is useless
// without it. A random nonce in the state is also set in an HttpOnly
// cookie; [Codec.Verify] requires both to match, so a state only works in
// the browser that started the flow.
package oauthstate

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/envelope"
)

// TTL is how long a state is valid.
const TTL = 10 * time.Minute

// maxTokenLen bounds the encoded state accepted from a request.
const maxTokenLen = 4096

// binding is the envelope binding of every state: states are not stored, so
// there is no record; the organization inside the sealed payload is
// authenticated with it.
var binding = envelope.Binding{Field: "oauth.state"}

// Errors of [Codec.Verify]. Any of them means the callback must stop
// before writing anything.
var (
	// ErrInvalid means the token is malformed, was changed, or was not
	// issued by this service.
	ErrInvalid = errors.New("oauth state: invalid")
	// ErrExpired means the token is authentic but past its expiry.
	ErrExpired = errors.New("oauth state: expired")
	// ErrBrowser means the token is authentic but the cookie nonce is
	// missing or differs: another browser presented it.
	ErrBrowser = errors.New("oauth state: not bound to this browser")
)

// Kind says which flow a state belongs to.
type Kind string

const (
	KindConnect Kind = "connect" // connect a platform to an organization
	KindSignIn  Kind = "signin"  // sign in with an identity provider
)

// State is what travels, sealed, through the provider and back.
type State struct {
	Kind      Kind      `json:"k"`
	OrgID     string    `json:"o,omitempty"`
	UserID    string    `json:"u,omitempty"`
	Platform  string    `json:"p"`
	Shop      string    `json:"s,omitempty"` // Shopify shop domain
	Label     string    `json:"l,omitempty"` // account label asked for at connect
	ReturnTo  string    `json:"r"`           // checked absolute return URL
	Nonce     string    `json:"n"`           // also in the browser's cookie
	Verifier  string    `json:"v"`           // PKCE code verifier
	OIDCNonce string    `json:"on,omitempty"`
	Link      bool      `json:"lk,omitempty"` // sign-in: link to UserID instead of signing in
	IssuedAt  time.Time `json:"iat"`
	ExpiresAt time.Time `json:"exp"`
}

// Sealer is the part of [envelope.Keyring] the codec uses.
type Sealer interface {
	Seal(ctx context.Context, p envelope.Purpose, b envelope.Binding, plaintext []byte) ([]byte, error)
	Open(ctx context.Context, p envelope.Purpose, b envelope.Binding, ciphertext []byte) ([]byte, error)
}

// Codec issues and verifies states.
type Codec struct {
	sealer Sealer
	now    func() time.Time
	rand   io.Reader
}

// New returns a Codec sealing with s, reading time from now and
// randomness (nonces, verifiers) from rand.
func New(s Sealer, now func() time.Time, rand io.Reader) *Codec {
	return &Codec{sealer: s, now: now, rand: rand}
}

// Issue fills st's Nonce, Verifier (unless set), OIDCNonce (for sign-in),
// IssuedAt and ExpiresAt, and returns the encoded token with the completed
// state. Errors are envelope errors ([envelope.ErrUnavailable] is retryable)
// or a failure of the randomness source.
func (c *Codec) Issue(ctx context.Context, st State) (string, State, error) {
	var err error
	if st.Nonce, err = c.random(); err != nil {
		return "", st, err
	}
	if st.Verifier, err = c.random(); err != nil {
		return "", st, err
	}
	if st.Kind == KindSignIn {
		if st.OIDCNonce, err = c.random(); err != nil {
			return "", st, err
		}
	}
	st.IssuedAt = c.now().UTC().Truncate(time.Second)
	st.ExpiresAt = st.IssuedAt.Add(TTL)
	payload, err := json.Marshal(st)
	if err != nil {
		return "", st, fmt.Errorf("encode oauth state: %w", err)
	}
	ct, err := c.sealer.Seal(ctx, envelope.PurposeOAuthState, binding, payload)
	if err != nil {
		return "", st, fmt.Errorf("seal oauth state: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(ct), st, nil
}

// random returns 32 random bytes, base64url-encoded (43 characters): as a
// PKCE verifier that is the length RFC 7636 recommends.
func (c *Codec) random() (string, error) {
	var b [32]byte
	if _, err := io.ReadFull(c.rand, b[:]); err != nil {
		return "", fmt.Errorf("read oauth state randomness: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// Verify opens token and checks it was issued for kind, is not expired, and
// that cookieNonce (the value of the browser's flow cookie) matches its
// nonce. It returns [ErrInvalid], [ErrExpired] or [ErrBrowser], or an error
// in class [envelope.ErrUnavailable] when the keys cannot be reached right
// now. With [ErrExpired] and [ErrBrowser] it also returns the state, which
// is authentic, so the caller may send the browser back to its (checked)
// return URL with an error; the state must not be acted on. Single use is
// the caller's to record (the store), after Verify.
func (c *Codec) Verify(ctx context.Context, kind Kind, token, cookieNonce string) (State, error) {
	st, err := c.open(ctx, token)
	if err != nil {
		return State{}, err
	}
	if st.Kind != kind || st.Nonce == "" || st.Verifier == "" || st.ReturnTo == "" || st.Platform == "" {
		return State{}, fmt.Errorf("%w: incomplete %q state", ErrInvalid, st.Kind)
	}
	if !c.now().Before(st.ExpiresAt) {
		return st, ErrExpired
	}
	if cookieNonce == "" || subtle.ConstantTimeCompare([]byte(cookieNonce), []byte(st.Nonce)) != 1 {
		return st, ErrBrowser
	}
	return st, nil
}

// open decodes and decrypts token, strictly.
func (c *Codec) open(ctx context.Context, token string) (State, error) {
	if token == "" || len(token) > maxTokenLen {
		return State{}, fmt.Errorf("%w: length %d", ErrInvalid, len(token))
	}
	ct, err := base64.RawURLEncoding.Strict().DecodeString(token)
	if err != nil {
		return State{}, fmt.Errorf("%w: not base64url", ErrInvalid)
	}
	payload, err := c.sealer.Open(ctx, envelope.PurposeOAuthState, binding, ct)
	switch {
	case errors.Is(err, envelope.ErrUnavailable):
		return State{}, fmt.Errorf("open oauth state: %w", err)
	case err != nil:
		return State{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	var st State
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&st); err != nil {
		return State{}, fmt.Errorf("%w: payload: %w", ErrInvalid, err)
	}
	return st, nil
}
