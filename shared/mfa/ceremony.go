package mfa

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/gatehouse-dev/gatehouse/shared/store"
)

// Ceremony is the kind of a WebAuthn ceremony. The server side of each
// ceremony (challenge, allowed credentials, user) is kept in the store as a
// single-use token; the client holds only the random ceremony id, so
// nothing the client sends back can change what is verified.
type Ceremony string

const (
	// CeremonyRegister registers a credential for a signed-in user.
	CeremonyRegister Ceremony = "webauthn_register"
	// CeremonySecondFactor is the second step of a sign-in for a known user.
	CeremonySecondFactor Ceremony = "webauthn_mfa"
	// CeremonyStepUp re-authenticates a signed-in user before a sensitive action.
	CeremonyStepUp Ceremony = "webauthn_step_up"
	// CeremonyPasskey is a passwordless sign-in with a discoverable credential.
	CeremonyPasskey Ceremony = "webauthn_passkey"
)

// CeremonyTTL is how long a ceremony may take, options to response.
const CeremonyTTL = 5 * time.Minute

// ErrCeremony means the ceremony id is unknown, of another kind, expired
// or already used.
var ErrCeremony = errors.New("mfa: unknown or expired webauthn ceremony")

// maxCeremonyIDLen bounds the ceremony ids accepted from clients.
const maxCeremonyIDLen = 64

// ceremonies stores WebAuthn session data between the two halves of a ceremony.
type ceremonies struct {
	store store.OneTimeTokens
	now   func() time.Time
	rand  io.Reader
}

// ceremonyData is what the store keeps of a ceremony: no secret (the
// challenge is public once sent).
type ceremonyData struct {
	Session webauthn.SessionData `json:"session"`
	Prior   []string             `json:"prior,omitempty"`   // methods the user proved before this ceremony
	SSOOrg  string               `json:"sso_org,omitempty"` // the organization whose SSO those were
}

// begin stores session for kind, bound to userID ("" for a passkey
// sign-in) with the methods the user already proved, and returns the id
// the client sends back.
func (c ceremonies) begin(ctx context.Context, kind Ceremony, userID string, prior Prior, session *webauthn.SessionData) (string, error) {
	var b [32]byte
	if _, err := io.ReadFull(c.rand, b[:]); err != nil {
		return "", fmt.Errorf("generate ceremony id: %w", err)
	}
	id := base64.RawURLEncoding.EncodeToString(b[:])
	data, err := json.Marshal(ceremonyData{Session: *session, Prior: prior.Methods, SSOOrg: prior.SSOOrg})
	if err != nil {
		return "", fmt.Errorf("encode webauthn session: %w", err)
	}
	now := c.now()
	err = c.store.CreateOneTimeToken(ctx, store.OneTimeToken{Hash: sha256.Sum256([]byte(id)), Purpose: string(kind),
		Subject: userID, Data: string(data), CreatedAt: now, ExpiresAt: now.Add(CeremonyTTL)})
	if err != nil {
		return "", fmt.Errorf("store %s ceremony: %w", kind, err)
	}
	return id, nil
}

// finish consumes the ceremony id of kind and returns its user ("" for a
// passkey sign-in) and data. It returns [ErrCeremony] for any id that
// cannot be consumed; of concurrent calls with one id at most one succeeds.
func (c ceremonies) finish(ctx context.Context, kind Ceremony, id string) (string, ceremonyData, error) {
	return c.read(kind, id, func(hash [32]byte) (store.OneTimeToken, error) {
		return c.store.ConsumeOneTimeToken(ctx, string(kind), hash, c.now())
	})
}

// peek is finish without consuming: what a usable ceremony holds, so a
// request can be checked in full before the ceremony is spent.
func (c ceremonies) peek(ctx context.Context, kind Ceremony, id string) (string, ceremonyData, error) {
	return c.read(kind, id, func(hash [32]byte) (store.OneTimeToken, error) {
		return c.store.OneTimeToken(ctx, string(kind), hash, c.now())
	})
}

func (c ceremonies) read(kind Ceremony, id string, get func(hash [32]byte) (store.OneTimeToken, error)) (string, ceremonyData, error) {
	var data ceremonyData
	if id == "" || len(id) > maxCeremonyIDLen {
		return "", data, ErrCeremony
	}
	tok, err := get(sha256.Sum256([]byte(id)))
	switch {
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrUsed), errors.Is(err, store.ErrExpired):
		return "", data, ErrCeremony
	case err != nil:
		return "", data, fmt.Errorf("consume %s ceremony: %w", kind, err)
	}
	if err := json.Unmarshal([]byte(tok.Data), &data); err != nil {
		return "", data, fmt.Errorf("decode webauthn ceremony: %w", err)
	}
	return tok.Subject, data, nil
}
