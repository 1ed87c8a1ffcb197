// Package mfa implements Gatehouse's second factors: TOTP (RFC 6238) with
// replay protection, single-use recovery codes stored hashed, and WebAuthn
// passkeys and security keys (AUTH-5). [Service] keeps the factors in the
// store, TOTP secrets sealed with the envelope purpose "totp";
// [WebAuthn] runs registration and assertion ceremonies.
package mfa

import (
	"crypto/subtle"
	"encoding/base32"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
	"github.com/pquerna/otp/totp"
)

// TOTP parameters: RFC 6238 with the profile every authenticator app
// supports (HMAC-SHA-1, six digits, 30-second steps), accepting one step of
// clock skew either way.
const (
	TOTPPeriod     = 30 * time.Second
	TOTPDigits     = 6
	TOTPSkew       = 1
	TOTPSecretSize = 20 // bytes: the HMAC-SHA-1 block-friendly size RFC 4226 recommends
)

// Errors of second-factor checks. Handlers answer all of them with the
// same 401 so a caller cannot tell a wrong code from a replayed one.
var (
	// ErrInvalidCode means the code is malformed or does not match.
	ErrInvalidCode = errors.New("mfa: invalid code")
	// ErrReplay means the code matched a time step already accepted.
	ErrReplay = errors.New("mfa: code already used")
)

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// TOTPSecret is a TOTP shared secret. It prints as [REDACTED] in every
// format and log, so it cannot leak by accident; [TOTPSecret.Base32] is the
// one deliberate way out (shown once at enrollment).
type TOTPSecret struct{ b []byte }

// NewTOTPSecret reads [TOTPSecretSize] random bytes from rand.
func NewTOTPSecret(rand io.Reader) (TOTPSecret, error) {
	b := make([]byte, TOTPSecretSize)
	if _, err := io.ReadFull(rand, b); err != nil {
		return TOTPSecret{}, fmt.Errorf("generate totp secret: %w", err)
	}
	return TOTPSecret{b: b}, nil
}

// TOTPSecretFromBytes wraps b (copied).
func TOTPSecretFromBytes(b []byte) TOTPSecret { return TOTPSecret{b: append([]byte(nil), b...)} }

// Bytes returns the raw secret, for sealing. The caller must not log it.
func (s TOTPSecret) Bytes() []byte { return s.b }

// Base32 returns the secret in the unpadded base32 that authenticator apps
// take. The caller must not log it.
func (s TOTPSecret) Base32() string { return b32.EncodeToString(s.b) }

// URI returns the otpauth:// key URI (the QR code content) for the secret.
func (s TOTPSecret) URI(issuer, account string) (string, error) {
	key, err := totp.Generate(totp.GenerateOpts{Issuer: issuer, AccountName: account, Period: uint(TOTPPeriod / time.Second),
		Secret: s.b, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		return "", fmt.Errorf("build otpauth uri: %w", err)
	}
	return key.URL(), nil
}

// String implements fmt.Stringer without revealing the secret.
func (TOTPSecret) String() string { return "[REDACTED]" }

// GoString implements fmt.GoStringer without revealing the secret.
func (TOTPSecret) GoString() string { return "[REDACTED]" }

// Format prints [REDACTED] for every verb.
func (TOTPSecret) Format(f fmt.State, _ rune) { io.WriteString(f, "[REDACTED]") }

// LogValue implements slog.LogValuer without revealing the secret.
func (TOTPSecret) LogValue() slog.Value { return slog.StringValue("[REDACTED]") }

// TOTPStep returns the RFC 6238 time step of t: floor(unix seconds / 30).
func TOTPStep(t time.Time) int64 {
	return t.Unix() / int64(TOTPPeriod/time.Second)
}

// TOTPCode returns the code of step for secret.
func TOTPCode(s TOTPSecret, step int64) (string, error) {
	code, err := hotp.GenerateCodeCustom(s.Base32(), uint64(step), hotp.ValidateOpts{
		Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		return "", fmt.Errorf("compute totp code: %w", err)
	}
	return code, nil
}

// MatchTOTP checks code against the steps of now, one before and one after,
// and returns the step it matches. Spaces in code are ignored. It returns
// [ErrInvalidCode] if code is not six digits or matches none of them. It
// does not know which steps were used before: the caller records the step
// atomically (store.UseTOTPStep) to reject a replay.
func MatchTOTP(s TOTPSecret, code string, now time.Time) (int64, error) {
	code, ok := normalizeTOTPCode(code)
	if !ok {
		return 0, ErrInvalidCode
	}
	step := TOTPStep(now)
	match := int64(-1)
	for d := int64(-TOTPSkew); d <= TOTPSkew; d++ {
		want, err := TOTPCode(s, step+d)
		if err != nil {
			return 0, err
		}
		// Check every step in constant time so timing says nothing about which matched.
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 && match < 0 {
			match = step + d
		}
	}
	if match < 0 {
		return 0, ErrInvalidCode
	}
	return match, nil
}

// normalizeTOTPCode strips spaces and reports whether the rest is exactly
// [TOTPDigits] ASCII digits.
func normalizeTOTPCode(code string) (string, bool) {
	if len(code) > 32 {
		return "", false
	}
	code = strings.ReplaceAll(code, " ", "")
	if len(code) != TOTPDigits {
		return "", false
	}
	for i := range len(code) {
		if code[i] < '0' || code[i] > '9' {
			return "", false
		}
	}
	return code, true
}
