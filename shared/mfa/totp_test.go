package mfa

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
)

// rfcSecret is the SHA-1 seed of RFC 6238 Appendix B.
var rfcSecret = TOTPSecretFromBytes([]byte("12345678901234567890"))

// RFC 6238 Appendix B, SHA-1 rows, computed through pquerna/otp: the
// eight-digit values exactly, and with Gatehouse's parameters (six digits)
// their last six digits, since both are the same truncated HMAC mod 10^n.
//
// Controls: AUTH-5
func TestTOTPRFC6238Vectors(t *testing.T) {
	for _, tc := range []struct {
		name string
		unix int64
		want string
	}{
		{"59", 59, "94287082"},
		{"1111111109", 1111111109, "07081804"},
		{"1111111111", 1111111111, "14050471"},
		{"1234567890", 1234567890, "89005924"},
		{"2000000000", 2000000000, "69279037"},
		{"20000000000", 20000000000, "65353130"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			at := time.Unix(tc.unix, 0)
			step := TOTPStep(at)
			eight, err := hotp.GenerateCodeCustom(rfcSecret.Base32(), uint64(step),
				hotp.ValidateOpts{Digits: otp.DigitsEight, Algorithm: otp.AlgorithmSHA1})
			if err != nil || eight != tc.want {
				t.Fatalf("8-digit code = %q, %v; want %q", eight, err, tc.want)
			}
			six, err := TOTPCode(rfcSecret, step)
			if err != nil || six != tc.want[2:] {
				t.Fatalf("6-digit code = %q, %v; want %q", six, err, tc.want[2:])
			}
			if got, err := MatchTOTP(rfcSecret, tc.want[2:], at); err != nil || got != step {
				t.Fatalf("MatchTOTP = %d, %v; want step %d", got, err, step)
			}
		})
	}
}

// One step of skew either way is accepted; two are not; malformed codes
// never match.
//
// Controls: AUTH-5
func TestMatchTOTPWindow(t *testing.T) {
	now := time.Unix(1111111111, 0)
	step := TOTPStep(now)
	code := func(d int64) string {
		c, err := TOTPCode(rfcSecret, step+d)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	for _, tc := range []struct {
		name string
		code string
		want int64 // step offset; -99 for rejected
	}{
		{"current", code(0), 0},
		{"previous step", code(-1), -1},
		{"next step", code(1), 1},
		{"with spaces", code(0)[:3] + " " + code(0)[3:], 0},
		{"two steps old", code(-2), -99},
		{"two steps ahead", code(2), -99},
		{"empty", "", -99},
		{"five digits", code(0)[:5], -99},
		{"seven digits", code(0) + "1", -99},
		{"letters", "12345a", -99},
		{"unicode digits", "١٢٣٤٥٦", -99},
		{"long", strings.Repeat("1", 100), -99},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := MatchTOTP(rfcSecret, tc.code, now)
			if tc.want == -99 {
				if err != ErrInvalidCode {
					t.Fatalf("MatchTOTP(%q) = %d, %v; want ErrInvalidCode", tc.code, got, err)
				}
				return
			}
			if err != nil || got != step+tc.want {
				t.Fatalf("MatchTOTP = %d, %v; want step %d", got, err, step+tc.want)
			}
		})
	}
}

func TestTOTPSecretURI(t *testing.T) {
	uri, err := rfcSecret.URI("Gatehouse", "alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	key, err := otp.NewKeyFromURL(uri)
	if err != nil {
		t.Fatal(err)
	}
	if key.Issuer() != "Gatehouse" || key.AccountName() != "alice@example.com" || key.Secret() != rfcSecret.Base32() ||
		key.Period() != 30 || key.Digits() != otp.DigitsSix || key.Algorithm() != otp.AlgorithmSHA1 {
		t.Fatalf("otpauth URI %q does not carry the enrollment parameters", uri)
	}
}

// The secret never prints: not with any fmt verb, not through slog.
//
// Controls: AUTH-5
func TestTOTPSecretRedacted(t *testing.T) {
	s := TOTPSecretFromBytes([]byte("super-secret-bytes-x"))
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "secret", s)
	for _, out := range []string{fmt.Sprint(s), fmt.Sprintf("%v %+v %#v %s %x %q", s, s, s, s, s, s), buf.String()} {
		if strings.Contains(out, "super-secret") || strings.Contains(out, s.Base32()) || strings.Contains(out, "7375706572") {
			t.Fatalf("secret leaked: %s", out)
		}
	}
}

func FuzzMatchTOTP(f *testing.F) {
	for _, seed := range []string{"123456", " 12 34 56 ", "", "abcdef", "１２３４５６", "0000000"} {
		f.Add(seed)
	}
	now := time.Unix(1234567890, 0)
	f.Fuzz(func(t *testing.T, code string) {
		step, err := MatchTOTP(rfcSecret, code, now)
		if err != nil {
			return
		}
		if d := step - TOTPStep(now); d < -TOTPSkew || d > TOTPSkew {
			t.Fatalf("accepted step %d outside the window", step)
		}
		want, _ := TOTPCode(rfcSecret, step)
		if strings.ReplaceAll(code, " ", "") != want {
			t.Fatalf("accepted %q for code %q", code, want)
		}
	})
}
