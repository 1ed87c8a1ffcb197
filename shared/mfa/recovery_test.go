package mfa

import (
	"crypto/rand"
	"regexp"
	"strings"
	"testing"
)

var codeShape = regexp.MustCompile(`^[a-km-np-z2-9]{4}(-[a-km-np-z2-9]{4}){6}$`)

// New codes carry at least 128 random bits (28 characters of 32 letters:
// 140); before, 16 characters carried 80.
//
// Controls: AUTH-5
func TestNewRecoveryCodes(t *testing.T) {
	if RecoveryCodeBits < 128 || len(recoveryAlphabet) != 32 {
		t.Fatalf("%d bits per code, want at least 128", RecoveryCodeBits)
	}
	codes, hashes, err := NewRecoveryCodes(rand.Reader, "user-1")
	if err != nil {
		t.Fatal(err)
	}
	if len(codes) != RecoveryCodeCount || len(hashes) != RecoveryCodeCount {
		t.Fatalf("got %d codes, %d hashes; want %d", len(codes), len(hashes), RecoveryCodeCount)
	}
	seen := map[[32]byte]bool{}
	for i, c := range codes {
		if !codeShape.MatchString(c) {
			t.Fatalf("code %q has the wrong shape", c)
		}
		h, err := RecoveryCodeHash("user-1", c)
		if err != nil || h != hashes[i] {
			t.Fatalf("hash of code %d does not match what is stored (%v)", i, err)
		}
		if seen[h] {
			t.Fatal("duplicate code")
		}
		seen[h] = true
	}
}

// Codes are matched ignoring case, spaces and dashes; the digest is bound
// to the user; anything else is rejected before any lookup.
//
// Controls: AUTH-5, APP-1
func TestRecoveryCodeHash(t *testing.T) {
	want, err := RecoveryCodeHash("u", "abcd-efgh-ijkm-npqr")
	if err != nil {
		t.Fatal(err)
	}
	const newCode = "abcd-efgh-ijkm-npqr-stuv-wxyz-2345"
	wantNew, err := RecoveryCodeHash("u", newCode)
	if err != nil || wantNew == want {
		t.Fatalf("a 28-character code: %v", err)
	}
	for _, bad := range []string{newCode[:len(newCode)-1], newCode + "6", "abcd-efgh-ijkm-npqr-s"} {
		if _, err := RecoveryCodeHash("u", bad); err == nil {
			t.Fatalf("%q accepted", bad)
		}
	}
	if got, _ := RecoveryCodeHash("u", strings.ToUpper(strings.ReplaceAll(newCode, "-", " "))); got != wantNew {
		t.Fatal("a 28-character code is not normalized")
	}
	for _, tc := range []struct {
		name, user, code string
		ok               bool
	}{
		{"as shown", "u", "abcd-efgh-ijkm-npqr", true},
		{"upper case", "u", "ABCD-EFGH-IJKM-NPQR", true},
		{"no dashes", "u", "abcdefghijkmnpqr", true},
		{"spaces", "u", "abcd efgh ijkm npqr", true},
		{"other user", "v", "abcd-efgh-ijkm-npqr", false},
		{"short", "u", "abcd-efgh-ijkm-npq", false},
		{"excluded letter", "u", "abcd-efgh-ijkl-npqr", false},
		{"excluded digit", "u", "abcd-efgh-ijkm-npq1", false},
		{"non-ascii", "u", "abcd-efgh-ijkm-npqé", false},
		{"long", "u", strings.Repeat("a", 200), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := RecoveryCodeHash(tc.user, tc.code)
			if tc.ok != (err == nil && got == want) {
				t.Fatalf("RecoveryCodeHash(%q, %q) = %x, %v; match want %v", tc.user, tc.code, got, err, tc.ok)
			}
		})
	}
}

func FuzzRecoveryCodeHash(f *testing.F) {
	for _, seed := range []string{"abcd-efgh-ijkm-npqr", "ABCD EFGH IJKM NPQR", "abcd-efgh-ijkm-npqr-stuv-wxyz-2345", "", "----", "ÿÿÿÿ-ÿÿÿÿ"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, code string) {
		h, err := RecoveryCodeHash("u", code)
		if err != nil {
			return
		}
		// Whatever was accepted is the normalized form of a valid code.
		norm := strings.ToLower(strings.NewReplacer("-", "", " ", "").Replace(code))
		if (len(norm) != recoveryCodeLen && len(norm) != legacyRecoveryCodeLen) || h != hashRecoveryCode("u", norm) {
			t.Fatalf("accepted %q as a recovery code", code)
		}
	})
}
