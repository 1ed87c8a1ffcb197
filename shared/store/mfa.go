package store

import (
	"context"
	"time"
)

// TOTPSecret is a user's TOTP shared secret as stored: sealed with the
// envelope purpose "totp" under the binding {Org: "", Record: ID, Field:
// "totp_secrets.secret"} (see [SealedColumns]). A user has at most one.
type TOTPSecret struct {
	ID          string
	UserID      string
	Secret      []byte    // envelope ciphertext, never the plaintext
	ConfirmedAt time.Time // zero until the first code was accepted
	LastStep    int64     // the last time step accepted; a code of that step or earlier is a replay
	CreatedAt   time.Time
}

// MaxWebAuthnNameLen bounds a passkey's name.
const MaxWebAuthnNameLen = 100

// WebAuthnCredential is a registered passkey or security key: only public
// data (the public key, credential id, signature counter, transports,
// AAGUID and the authenticator flags the verifier needs) is kept.
type WebAuthnCredential struct {
	ID             string // Gatehouse's id for the credential, used in URLs
	UserID         string
	CredentialID   []byte // the authenticator's credential id
	PublicKey      []byte // COSE public key
	SignCount      uint32
	Transports     []string
	AAGUID         []byte
	UserVerified   bool // the credential has verified its user (uvInitialized)
	BackupEligible bool
	BackupState    bool
	CloneWarning   bool   // a counter went backwards: the key may have been cloned
	Name           string // chosen by the owner; "" until named (at most MaxWebAuthnNameLen bytes)
	CreatedAt      time.Time
	LastUsedAt     time.Time // zero until first used to sign in
}

// WebAuthnUse is what a successful assertion changes on a credential.
type WebAuthnUse struct {
	SignCount    uint32
	UserVerified bool
	BackupState  bool
	Time         time.Time
}

// MFAFactors stores second factors: TOTP secrets, recovery codes and
// WebAuthn credentials. Every method is scoped to one user.
type MFAFactors interface {
	// PutTOTPSecret stores s as the user's unconfirmed secret, replacing an
	// earlier unconfirmed one. Returns ErrConflict if the user has a
	// confirmed secret.
	PutTOTPSecret(ctx context.Context, s TOTPSecret) error
	// TOTPSecret returns the user's secret, confirmed or not, or ErrNotFound.
	TOTPSecret(ctx context.Context, userID string) (TOTPSecret, error)
	// ConfirmTOTPSecret marks the user's secret confirmed at now with step
	// as its last used step. Returns ErrNotFound if there is no secret,
	// ErrConflict if it is already confirmed (of concurrent calls exactly
	// one succeeds).
	ConfirmTOTPSecret(ctx context.Context, userID string, step int64, now time.Time) error
	// UseTOTPStep records step as the last accepted step of the user's
	// confirmed secret if it is later than the one recorded. Returns ErrUsed
	// if it is not (a replay: of concurrent calls with one step exactly one
	// succeeds), ErrNotFound if there is no confirmed secret.
	UseTOTPStep(ctx context.Context, userID string, step int64) error
	// DeleteTOTPSecret removes the user's secret. Returns ErrNotFound if
	// there is none.
	DeleteTOTPSecret(ctx context.Context, userID string) error

	// ReplaceRecoveryCodes replaces the user's recovery codes with the
	// given hashes, in one transaction.
	ReplaceRecoveryCodes(ctx context.Context, userID string, hashes [][32]byte, now time.Time) error
	// UseRecoveryCode marks the code with this hash used at now. Of any
	// number of concurrent calls exactly one succeeds; the others get
	// ErrUsed. Returns ErrNotFound for a hash the user does not have.
	UseRecoveryCode(ctx context.Context, userID string, hash [32]byte, now time.Time) error
	// RecoveryCodesLeft returns how many unused codes the user has.
	RecoveryCodesLeft(ctx context.Context, userID string) (int, error)
	// DeleteRecoveryCodes removes every recovery code of the user.
	DeleteRecoveryCodes(ctx context.Context, userID string) error

	// WebAuthnHandle returns the user's WebAuthn user handle, storing
	// handle as it if the user has none yet. Returns ErrConflict if handle
	// belongs to another user.
	WebAuthnHandle(ctx context.Context, userID string, handle []byte, now time.Time) ([]byte, error)
	// WebAuthnUserByHandle returns the user whose handle this is, or ErrNotFound.
	WebAuthnUserByHandle(ctx context.Context, handle []byte) (string, error)
	// CreateWebAuthnCredential inserts c. Returns ErrConflict if the
	// credential id or id is already registered (to anyone).
	CreateWebAuthnCredential(ctx context.Context, c WebAuthnCredential) error
	// WebAuthnCredentials returns the user's credentials, oldest first.
	WebAuthnCredentials(ctx context.Context, userID string) ([]WebAuthnCredential, error)
	// UseWebAuthnCredential records a successful assertion with credential
	// id of userID. The signature counter must move forward (or both the
	// stored and new counters be zero, for authenticators without one):
	// otherwise the credential's clone warning is set and ErrConflict is
	// returned. Of concurrent uses with one counter value exactly one
	// succeeds. Returns ErrNotFound if the user has no such credential.
	UseWebAuthnCredential(ctx context.Context, userID, id string, use WebAuthnUse) error
	// RenameWebAuthnCredential sets the name of credential id of userID.
	// Returns ErrNotFound if userID has no such credential.
	RenameWebAuthnCredential(ctx context.Context, userID, id, name string) error
	// DeleteWebAuthnCredential removes credential id of userID. Returns
	// ErrNotFound if the user has no such credential.
	DeleteWebAuthnCredential(ctx context.Context, userID, id string) error

	// DeleteUserMFA removes every factor of the user (account deletion).
	DeleteUserMFA(ctx context.Context, userID string) error
}
