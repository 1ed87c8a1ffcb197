package mfa

import (
	"crypto/sha256"
	"fmt"
	"io"
	"strings"
)

// Recovery codes: [RecoveryCodeCount] per user, each 28 characters of a
// 32-letter alphabet (140 random bits), shown as seven groups of four.
// Only SHA-256 digests are stored: at 128 bits or more a slow hash adds
// nothing, since no guessing attack on the digest is feasible (AUTH-5).
// Codes issued before were 16 characters (80 bits); they are still
// accepted until the user's codes are regenerated.
const (
	RecoveryCodeCount     = 10
	recoveryCodeLen       = 28
	legacyRecoveryCodeLen = 16
	recoveryAlphabet      = "abcdefghijkmnpqrstuvwxyz23456789" // no l, o, 0, 1: easy to read back
)

// RecoveryCodeBits is the randomness of a new recovery code.
const RecoveryCodeBits = recoveryCodeLen * 5

// NewRecoveryCodes reads [RecoveryCodeCount] fresh codes from rand and
// returns them formatted for display with their digests for storage.
func NewRecoveryCodes(rand io.Reader, userID string) (codes []string, hashes [][32]byte, err error) {
	buf := make([]byte, recoveryCodeLen)
	for range RecoveryCodeCount {
		if _, err := io.ReadFull(rand, buf); err != nil {
			return nil, nil, fmt.Errorf("generate recovery code: %w", err)
		}
		var b strings.Builder
		for i, c := range buf {
			if i > 0 && i%4 == 0 {
				b.WriteByte('-')
			}
			b.WriteByte(recoveryAlphabet[c%32]) // 256 is a multiple of 32: no bias
		}
		code := b.String()
		codes = append(codes, code)
		hashes = append(hashes, hashRecoveryCode(userID, strings.ReplaceAll(code, "-", "")))
	}
	clear(buf)
	return codes, hashes, nil
}

// RecoveryCodeHash returns the digest to look code up by for userID. The
// code is normalized first (case, spaces and dashes ignored); it returns
// [ErrInvalidCode] for anything that cannot be a recovery code, new (28
// characters) or issued before (16).
func RecoveryCodeHash(userID, code string) ([32]byte, error) {
	if len(code) > 64 {
		return [32]byte{}, ErrInvalidCode
	}
	norm := strings.Map(func(r rune) rune {
		if r == '-' || r == ' ' {
			return -1
		}
		if 'A' <= r && r <= 'Z' {
			return r + ('a' - 'A')
		}
		return r
	}, code)
	if (len(norm) != recoveryCodeLen && len(norm) != legacyRecoveryCodeLen) || strings.Trim(norm, recoveryAlphabet) != "" {
		return [32]byte{}, ErrInvalidCode
	}
	return hashRecoveryCode(userID, norm), nil
}

// hashRecoveryCode binds the digest to the user, so a digest copied to
// another account matches nothing there.
func hashRecoveryCode(userID, norm string) [32]byte {
	h := sha256.New()
	fmt.Fprintf(h, "gatehouse/recovery-code/v1\x00%d:%s\x00%s", len(userID), userID, norm)
	var out [32]byte
	h.Sum(out[:0])
	return out
}
