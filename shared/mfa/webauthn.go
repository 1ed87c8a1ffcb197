package mfa

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/gatehouse-dev/gatehouse/shared/store"
)

// MaxWebAuthnCredentials bounds the credentials one user may register.
const MaxWebAuthnCredentials = 20

// Errors of WebAuthn ceremonies.
var (
	// ErrWebAuthn means a registration or assertion failed verification.
	ErrWebAuthn = errors.New("mfa: webauthn verification failed")
	// ErrCloned means an assertion's signature counter did not advance:
	// the credential may have been cloned. It is flagged and refused.
	ErrCloned = errors.New("mfa: webauthn signature counter did not advance")
	// ErrTooManyCredentials means the user has [MaxWebAuthnCredentials].
	ErrTooManyCredentials = errors.New("mfa: too many webauthn credentials")
)

// WebAuthnConfig describes the relying party.
type WebAuthnConfig struct {
	RPID          string   // e.g. "app.example.com"
	RPDisplayName string   // shown by the authenticator
	RPOrigins     []string // e.g. "https://app.example.com"
}

// WebAuthn runs registration and assertion ceremonies with
// go-webauthn/webauthn, storing only public credential data.
type WebAuthn struct {
	wa         *webauthn.WebAuthn
	store      store.Store
	ceremonies ceremonies
	now        func() time.Time
	rand       io.Reader
}

// NewWebAuthn returns a WebAuthn relying party for cfg.
func NewWebAuthn(s store.Store, cfg WebAuthnConfig, now func() time.Time, rand io.Reader) (*WebAuthn, error) {
	wa, err := webauthn.New(&webauthn.Config{
		RPID: cfg.RPID, RPDisplayName: cfg.RPDisplayName, RPOrigins: cfg.RPOrigins,
		AttestationPreference: protocol.PreferNoAttestation,
		AuthenticatorSelection: protocol.AuthenticatorSelection{
			ResidentKey: protocol.ResidentKeyRequirementPreferred, UserVerification: protocol.VerificationPreferred},
	})
	if err != nil {
		return nil, fmt.Errorf("configure webauthn: %w", err)
	}
	return &WebAuthn{wa: wa, store: s, ceremonies: ceremonies{store: s, now: now, rand: rand}, now: now, rand: rand}, nil
}

// In returns w working through tx, a transaction-bound store (ceremonies
// included), so its changes commit or roll back with the caller's.
func (w *WebAuthn) In(tx store.Store) *WebAuthn {
	c := *w
	c.store = tx
	c.ceremonies.store = tx
	return &c
}

// Options are the credential creation or request options for the
// browser's navigator.credentials call, and the ceremony id to send back
// with its result. It encodes as {"ceremony": ..., "publicKey": {...}}.
type Options struct {
	Ceremony  string `json:"ceremony"`
	PublicKey any    `json:"publicKey"`
}

// BeginRegistration starts registering a credential for userID; name
// labels the account in the authenticator. Returns [ErrTooManyCredentials].
func (w *WebAuthn) BeginRegistration(ctx context.Context, userID, name string) (Options, error) {
	u, err := w.user(ctx, userID, name)
	if err != nil {
		return Options{}, err
	}
	if len(u.creds) >= MaxWebAuthnCredentials {
		return Options{}, ErrTooManyCredentials
	}
	creation, session, err := w.wa.BeginRegistration(u,
		webauthn.WithExclusions(webauthn.Credentials(u.creds).CredentialDescriptors()))
	if err != nil {
		return Options{}, fmt.Errorf("begin webauthn registration: %w", err)
	}
	id, err := w.ceremonies.begin(ctx, CeremonyRegister, userID, Prior{}, session)
	if err != nil {
		return Options{}, err
	}
	return Options{Ceremony: id, PublicKey: creation.Response}, nil
}

// FinishRegistration verifies the authenticator's response (the JSON of
// the PublicKeyCredential) to ceremony and stores the new credential.
// Returns [ErrCeremony] (including for a ceremony of another user),
// [ErrWebAuthn], or [ErrAlreadyEnrolled] for a credential already registered.
func (w *WebAuthn) FinishRegistration(ctx context.Context, userID, ceremony string, response []byte) (store.WebAuthnCredential, error) {
	owner, data, err := w.ceremonies.finish(ctx, CeremonyRegister, ceremony)
	if err != nil {
		return store.WebAuthnCredential{}, err
	}
	if owner != userID {
		return store.WebAuthnCredential{}, ErrCeremony
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(response)
	if err != nil {
		return store.WebAuthnCredential{}, fmt.Errorf("%w: %w", ErrWebAuthn, err)
	}
	u, err := w.user(ctx, userID, "")
	if err != nil {
		return store.WebAuthnCredential{}, err
	}
	cred, err := w.wa.CreateCredential(u, data.Session, parsed)
	if err != nil {
		return store.WebAuthnCredential{}, fmt.Errorf("%w: %w", ErrWebAuthn, err)
	}
	return w.save(ctx, userID, cred)
}

func (w *WebAuthn) save(ctx context.Context, userID string, cred *webauthn.Credential) (store.WebAuthnCredential, error) {
	id, err := newID(w.rand, "wac_")
	if err != nil {
		return store.WebAuthnCredential{}, err
	}
	c := store.WebAuthnCredential{ID: id, UserID: userID, CredentialID: cred.ID, PublicKey: cred.PublicKey,
		SignCount: cred.Authenticator.SignCount, AAGUID: cred.Authenticator.AAGUID,
		UserVerified: cred.Flags.UserVerified, BackupEligible: cred.Flags.BackupEligible,
		BackupState: cred.Flags.BackupState, CreatedAt: w.now()}
	for _, t := range cred.Transport {
		c.Transports = append(c.Transports, string(t))
	}
	if c.AAGUID == nil {
		c.AAGUID = []byte{}
	}
	err = w.store.CreateWebAuthnCredential(ctx, c)
	if errors.Is(err, store.ErrConflict) {
		return c, ErrAlreadyEnrolled
	}
	return c, err
}

// Prior is what a user proved before a second-factor ceremony: the first
// factor's methods, and the organization whose single sign-on that was
// ("" for any other).
type Prior struct {
	Methods []string
	SSOOrg  string
}

// BeginLogin starts an assertion for userID, who must have a credential:
// kind is [CeremonySecondFactor] or [CeremonyStepUp]. prior is what the
// user already proved (the first factor), handed back in
// [Assertion.Prior]. Returns [ErrNotEnrolled].
func (w *WebAuthn) BeginLogin(ctx context.Context, kind Ceremony, userID string, prior Prior) (Options, error) {
	u, err := w.user(ctx, userID, "")
	if err != nil {
		return Options{}, err
	}
	if len(u.creds) == 0 {
		return Options{}, ErrNotEnrolled
	}
	challenge, err := w.challenge()
	if err != nil {
		return Options{}, err
	}
	assertion, session, err := w.wa.BeginLogin(u, webauthn.WithChallenge(challenge))
	if err != nil {
		return Options{}, fmt.Errorf("begin webauthn login: %w", err)
	}
	id, err := w.ceremonies.begin(ctx, kind, userID, prior, session)
	if err != nil {
		return Options{}, err
	}
	return Options{Ceremony: id, PublicKey: assertion.Response}, nil
}

// BeginPasskeyLogin starts a passwordless sign-in with a discoverable
// credential; the authenticator must verify its user.
func (w *WebAuthn) BeginPasskeyLogin(ctx context.Context) (Options, error) {
	challenge, err := w.challenge()
	if err != nil {
		return Options{}, err
	}
	assertion, session, err := w.wa.BeginDiscoverableLogin(webauthn.WithChallenge(challenge),
		webauthn.WithUserVerification(protocol.VerificationRequired))
	if err != nil {
		return Options{}, fmt.Errorf("begin passkey login: %w", err)
	}
	id, err := w.ceremonies.begin(ctx, CeremonyPasskey, "", Prior{}, session)
	if err != nil {
		return Options{}, err
	}
	return Options{Ceremony: id, PublicKey: assertion.Response}, nil
}

func (w *WebAuthn) challenge() ([]byte, error) {
	b := make([]byte, 32)
	if _, err := io.ReadFull(w.rand, b); err != nil {
		return nil, fmt.Errorf("generate webauthn challenge: %w", err)
	}
	return b, nil
}

// Assertion is a verified assertion.
type Assertion struct {
	UserID       string
	Credential   store.WebAuthnCredential
	UserVerified bool  // the authenticator verified its user in this ceremony
	Prior        Prior // what BeginLogin was given
}

// FinishLogin verifies an assertion (the JSON of the PublicKeyCredential)
// for a ceremony of kind, consuming the ceremony. For a passkey sign-in the
// user is found by the user handle the authenticator returned. guard runs
// once the user is known and before the signature is checked (rate limits,
// lockout); its error is returned as is. The ceremony is spent only after
// the response parsed and guard passed, so a request refused by those
// checks leaves it usable (AUTH-15); a signature that fails spends it. On failure the returned
// Assertion's UserID is set when the user is known, so the caller can count
// the failure. Returns [ErrCeremony], [ErrWebAuthn] or [ErrCloned].
func (w *WebAuthn) FinishLogin(ctx context.Context, kind Ceremony, ceremony string, response []byte,
	guard func(ctx context.Context, userID string) error) (Assertion, error) {
	userID, data, err := w.ceremonies.peek(ctx, kind, ceremony)
	if err != nil {
		return Assertion{}, err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(response)
	if err != nil {
		return Assertion{UserID: userID}, fmt.Errorf("%w: %w", ErrWebAuthn, err)
	}
	if userID == "" {
		if userID, err = w.store.WebAuthnUserByHandle(ctx, parsed.Response.UserHandle); err != nil {
			return Assertion{}, fmt.Errorf("%w: unknown user handle: %w", ErrWebAuthn, err)
		}
	}
	a := Assertion{UserID: userID, Prior: Prior{Methods: data.Prior, SSOOrg: data.SSOOrg}}
	if err := guard(ctx, userID); err != nil {
		return a, err
	}
	// Every check has passed: only now is the ceremony spent (AUTH-15).
	if _, _, err := w.ceremonies.finish(ctx, kind, ceremony); err != nil {
		return Assertion{}, err
	}
	u, err := w.user(ctx, userID, "")
	if err != nil {
		return a, err
	}
	var cred *webauthn.Credential
	if kind == CeremonyPasskey {
		cred, err = w.wa.ValidateDiscoverableLogin(func(_, handle []byte) (webauthn.User, error) {
			if !bytes.Equal(handle, u.handle) {
				return nil, errors.New("user handle changed")
			}
			return u, nil
		}, data.Session, parsed)
	} else {
		cred, err = w.wa.ValidateLogin(u, data.Session, parsed)
	}
	if err != nil {
		return a, fmt.Errorf("%w: %w", ErrWebAuthn, err)
	}
	return w.recordUse(ctx, a, u, cred, parsed.Response.AuthenticatorData)
}

// recordUse moves the stored counter forward, or flags a possible clone.
func (w *WebAuthn) recordUse(ctx context.Context, a Assertion, u *waUser, cred *webauthn.Credential,
	data protocol.AuthenticatorData) (Assertion, error) {
	stored, ok := u.stored(cred.ID)
	if !ok {
		return a, fmt.Errorf("%w: credential vanished", ErrWebAuthn)
	}
	err := w.store.UseWebAuthnCredential(ctx, a.UserID, stored.ID, store.WebAuthnUse{SignCount: data.Counter,
		UserVerified: cred.Flags.UserVerified, BackupState: data.Flags.HasBackupState(), Time: w.now()})
	if errors.Is(err, store.ErrConflict) {
		return a, ErrCloned
	}
	if err != nil {
		return a, err
	}
	a.Credential, a.UserVerified = stored, data.Flags.HasUserVerified()
	return a, nil
}

// DeleteCredential removes credential id of userID and, if no factor is
// left, the user's recovery codes. Returns [ErrNotEnrolled] if the user has
// no such credential.
func (w *WebAuthn) DeleteCredential(ctx context.Context, userID, id string) error {
	return w.store.Tx(ctx, func(tx store.Store) error {
		if err := tx.DeleteWebAuthnCredential(ctx, userID, id); errors.Is(err, store.ErrNotFound) {
			return ErrNotEnrolled
		} else if err != nil {
			return err
		}
		return dropOrphanRecoveryCodes(ctx, tx, userID)
	})
}
