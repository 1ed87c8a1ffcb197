package mfa

import (
	"context"
	"encoding/base32"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/envelope"
	"github.com/gatehouse-dev/gatehouse/shared/store"
)

// Method names, as [Service.Methods] lists them.
const (
	MethodTOTP         = "totp"
	MethodWebAuthn     = "webauthn"
	MethodRecoveryCode = "recovery_code"
)

// Errors of enrollment.
var (
	// ErrNotEnrolled means the user has no such factor (or none at all).
	ErrNotEnrolled = errors.New("mfa: factor not enrolled")
	// ErrAlreadyEnrolled means the user already has a confirmed TOTP secret.
	ErrAlreadyEnrolled = errors.New("mfa: factor already enrolled")
)

// totpField is the binding field of sealed TOTP secrets (see store.SealedColumns).
const totpField = "totp_secrets.secret"

// Service manages a user's TOTP secret and recovery codes. TOTP secrets
// are sealed with [envelope.PurposeTOTP], so they open with no other
// purpose's key and a database dump alone reveals none (AUTH-5, CRED-2).
type Service struct {
	store   store.Store
	keyring *envelope.Keyring
	issuer  string
	now     func() time.Time
	rand    io.Reader
}

// NewService returns a Service. issuer names the service in authenticator
// apps; now and rand are the clock and randomness.
func NewService(s store.Store, kr *envelope.Keyring, issuer string, now func() time.Time, rand io.Reader) *Service {
	return &Service{store: s, keyring: kr, issuer: issuer, now: now, rand: rand}
}

// In returns s working through tx, a transaction-bound store, so its
// changes commit or roll back with the caller's (its audit event).
func (s *Service) In(tx store.Store) *Service {
	c := *s
	c.store = tx
	return &c
}

// TOTPEnrollment is a new, unconfirmed TOTP secret, shown to the user once.
type TOTPEnrollment struct {
	Secret TOTPSecret
	URI    string
}

// EnrollTOTP creates an unconfirmed secret for userID (replacing an earlier
// unconfirmed one); account labels it in the authenticator app. Returns
// [ErrAlreadyEnrolled] if the user has a confirmed secret.
func (s *Service) EnrollTOTP(ctx context.Context, userID, account string) (TOTPEnrollment, error) {
	if cur, err := s.store.TOTPSecret(ctx, userID); err == nil && !cur.ConfirmedAt.IsZero() {
		return TOTPEnrollment{}, ErrAlreadyEnrolled
	} else if err != nil && !errors.Is(err, store.ErrNotFound) {
		return TOTPEnrollment{}, err
	}
	secret, err := NewTOTPSecret(s.rand)
	if err != nil {
		return TOTPEnrollment{}, err
	}
	uri, err := secret.URI(s.issuer, account)
	if err != nil {
		return TOTPEnrollment{}, err
	}
	id, err := newID(s.rand, "totp_")
	if err != nil {
		return TOTPEnrollment{}, err
	}
	sealed, err := s.keyring.Seal(ctx, envelope.PurposeTOTP, envelope.Binding{Record: id, Field: totpField}, secret.Bytes())
	if err != nil {
		return TOTPEnrollment{}, fmt.Errorf("seal totp secret: %w", err)
	}
	err = s.store.PutTOTPSecret(ctx, store.TOTPSecret{ID: id, UserID: userID, Secret: sealed, CreatedAt: s.now()})
	if errors.Is(err, store.ErrConflict) {
		return TOTPEnrollment{}, ErrAlreadyEnrolled
	}
	if err != nil {
		return TOTPEnrollment{}, err
	}
	return TOTPEnrollment{Secret: secret, URI: uri}, nil
}

// ConfirmTOTP checks the first code from the user's app against the
// unconfirmed secret, confirms it, and returns [RecoveryCodeCount] new
// recovery codes (replacing any earlier ones), in one transaction.
// Returns [ErrNotEnrolled], [ErrAlreadyEnrolled] or [ErrInvalidCode].
func (s *Service) ConfirmTOTP(ctx context.Context, userID, code string) ([]string, error) {
	sec, secret, err := s.openTOTP(ctx, userID)
	if err != nil {
		return nil, err
	}
	if !sec.ConfirmedAt.IsZero() {
		return nil, ErrAlreadyEnrolled
	}
	step, err := MatchTOTP(secret, code, s.now())
	if err != nil {
		return nil, err
	}
	codes, hashes, err := NewRecoveryCodes(s.rand, userID)
	if err != nil {
		return nil, err
	}
	err = s.store.Tx(ctx, func(tx store.Store) error {
		if err := tx.ConfirmTOTPSecret(ctx, userID, step, s.now()); err != nil {
			return err
		}
		return tx.ReplaceRecoveryCodes(ctx, userID, hashes, s.now())
	})
	switch {
	case errors.Is(err, store.ErrConflict):
		return nil, ErrAlreadyEnrolled
	case errors.Is(err, store.ErrNotFound):
		return nil, ErrNotEnrolled
	case err != nil:
		return nil, err
	}
	return codes, nil
}

// VerifyTOTP checks a code against the user's confirmed secret and
// records its time step, atomically, so the same code (or one of an earlier
// step) is never accepted again. Returns [ErrNotEnrolled],
// [ErrInvalidCode] or [ErrReplay]; envelope errors are passed through
// (errors.Is(err, envelope.ErrUnavailable) is retryable).
func (s *Service) VerifyTOTP(ctx context.Context, userID, code string) error {
	sec, secret, err := s.openTOTP(ctx, userID)
	if err != nil {
		return err
	}
	if sec.ConfirmedAt.IsZero() {
		return ErrNotEnrolled
	}
	step, err := MatchTOTP(secret, code, s.now())
	if err != nil {
		return err
	}
	err = s.store.UseTOTPStep(ctx, userID, step)
	switch {
	case errors.Is(err, store.ErrUsed):
		return ErrReplay
	case errors.Is(err, store.ErrNotFound):
		return ErrNotEnrolled
	}
	return err
}

// openTOTP reads and opens the user's secret, confirmed or not.
func (s *Service) openTOTP(ctx context.Context, userID string) (store.TOTPSecret, TOTPSecret, error) {
	sec, err := s.store.TOTPSecret(ctx, userID)
	if errors.Is(err, store.ErrNotFound) {
		return sec, TOTPSecret{}, ErrNotEnrolled
	}
	if err != nil {
		return sec, TOTPSecret{}, err
	}
	plain, err := s.keyring.Open(ctx, envelope.PurposeTOTP, envelope.Binding{Record: sec.ID, Field: totpField}, sec.Secret)
	if err != nil {
		return sec, TOTPSecret{}, fmt.Errorf("open totp secret of %s: %w", userID, err)
	}
	secret := TOTPSecretFromBytes(plain)
	clear(plain)
	return sec, secret, nil
}

// DisableTOTP removes the user's TOTP secret (confirmed or not). When no
// other factor remains, the recovery codes go too. Returns [ErrNotEnrolled]
// if there is no secret.
func (s *Service) DisableTOTP(ctx context.Context, userID string) error {
	return s.store.Tx(ctx, func(tx store.Store) error {
		if err := tx.DeleteTOTPSecret(ctx, userID); errors.Is(err, store.ErrNotFound) {
			return ErrNotEnrolled
		} else if err != nil {
			return err
		}
		return dropOrphanRecoveryCodes(ctx, tx, userID)
	})
}

// dropOrphanRecoveryCodes deletes the recovery codes of a user with no
// other factor left: a recovery code alone is not a second factor.
func dropOrphanRecoveryCodes(ctx context.Context, tx store.Store, userID string) error {
	creds, err := tx.WebAuthnCredentials(ctx, userID)
	if err != nil || len(creds) > 0 {
		return err
	}
	if sec, err := tx.TOTPSecret(ctx, userID); err == nil && !sec.ConfirmedAt.IsZero() {
		return nil
	} else if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return tx.DeleteRecoveryCodes(ctx, userID)
}

// RegenerateRecoveryCodes replaces the user's recovery codes with
// [RecoveryCodeCount] new ones and returns them. Returns [ErrNotEnrolled]
// if the user has no other factor (TOTP or WebAuthn).
func (s *Service) RegenerateRecoveryCodes(ctx context.Context, userID string) ([]string, error) {
	methods, err := s.Methods(ctx, userID)
	if err != nil {
		return nil, err
	}
	if !hasPrimaryFactor(methods) {
		return nil, ErrNotEnrolled
	}
	codes, hashes, err := NewRecoveryCodes(s.rand, userID)
	if err != nil {
		return nil, err
	}
	if err := s.store.ReplaceRecoveryCodes(ctx, userID, hashes, s.now()); err != nil {
		return nil, err
	}
	return codes, nil
}

// UseRecoveryCode spends one of the user's recovery codes. Returns
// [ErrInvalidCode] for a code that is malformed, unknown or already used
// (of concurrent uses of one code exactly one succeeds).
func (s *Service) UseRecoveryCode(ctx context.Context, userID, code string) error {
	hash, err := RecoveryCodeHash(userID, code)
	if err != nil {
		return err
	}
	err = s.store.UseRecoveryCode(ctx, userID, hash, s.now())
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrUsed) {
		return ErrInvalidCode
	}
	return err
}

// Methods lists the second factors userID can sign in with (see
// [MethodsOf]). An empty list means the user has no MFA.
func (s *Service) Methods(ctx context.Context, userID string) ([]string, error) {
	var st store.MFAState
	sec, err := s.store.TOTPSecret(ctx, userID)
	switch {
	case err == nil:
		st.TOTPConfirmed = !sec.ConfirmedAt.IsZero()
	case !errors.Is(err, store.ErrNotFound):
		return nil, err
	}
	creds, err := s.store.WebAuthnCredentials(ctx, userID)
	if err != nil {
		return nil, err
	}
	st.WebAuthnCredentials = len(creds)
	if !st.TOTPConfirmed && st.WebAuthnCredentials == 0 {
		return nil, nil
	}
	if st.RecoveryCodesLeft, err = s.store.RecoveryCodesLeft(ctx, userID); err != nil {
		return nil, err
	}
	return MethodsOf(st), nil
}

// MethodsOf lists the second factors of a user in state st: "totp" (a
// confirmed secret), "webauthn" (a registered credential), and
// "recovery_code" (unused codes, listed only beside one of the others).
// nil means no MFA.
func MethodsOf(st store.MFAState) []string {
	var out []string
	if st.TOTPConfirmed {
		out = append(out, MethodTOTP)
	}
	if st.WebAuthnCredentials > 0 {
		out = append(out, MethodWebAuthn)
	}
	if len(out) > 0 && st.RecoveryCodesLeft > 0 {
		out = append(out, MethodRecoveryCode)
	}
	return out
}

func hasPrimaryFactor(methods []string) bool {
	for _, m := range methods {
		if m == MethodTOTP || m == MethodWebAuthn {
			return true
		}
	}
	return false
}

var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// newID returns prefix and 16 random bytes in lowercase base32.
func newID(rand io.Reader, prefix string) (string, error) {
	var b [16]byte
	if _, err := io.ReadFull(rand, b[:]); err != nil {
		return "", fmt.Errorf("generate id: %w", err)
	}
	return prefix + strings.ToLower(idEncoding.EncodeToString(b[:])), nil
}
