package password

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/logging"
	"github.com/gatehouse-dev/gatehouse/shared/password/argon2id"
)

func newHasher(t testing.TB, o Options) *Hasher {
	t.Helper()
	h, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// The reference implementation's Argon2id test vector (phc-winner-argon2
// test.c: "password", "somesalt", t=2, m=2^16, p=1).
const referencePHC = "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc"

// Controls: AUTH-1
func TestVerifyReferenceVector(t *testing.T) {
	h := newHasher(t, Options{})
	if err := h.Verify(context.Background(), "password", referencePHC); err != nil {
		t.Fatalf("reference vector: %v", err)
	}
	if err := h.Verify(context.Background(), "Password", referencePHC); !errors.Is(err, ErrMismatch) {
		t.Fatalf("wrong password: err = %v, want ErrMismatch", err)
	}
	if !h.NeedsRehash(referencePHC) {
		t.Fatal("a hash with other parameters does not need a rehash")
	}
}

var phcRE = regexp.MustCompile(`^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)

// Controls: AUTH-1, AUTH-2
func TestHashFormatAndSalt(t *testing.T) {
	h := newHasher(t, Options{})
	ctx := context.Background()
	const pw = "correct horse battery staple"
	a, err := h.Hash(ctx, pw)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := h.Hash(ctx, pw)
	if !phcRE.MatchString(a) {
		t.Fatalf("hash %q is not a PHC Argon2id string with OWASP parameters", a)
	}
	if a == b {
		t.Fatal("two hashes of one password are equal: the salt is not random")
	}
	if strings.Contains(a, pw) {
		t.Fatal("hash contains the password")
	}
	for _, enc := range []string{a, b} {
		if err := h.Verify(ctx, pw, enc); err != nil {
			t.Fatalf("Verify(own hash) = %v", err)
		}
		if h.NeedsRehash(enc) {
			t.Fatal("fresh hash needs a rehash")
		}
	}
	// NFKC: the full-width and the ASCII form are one password.
	if err := h.Verify(ctx, "ｃorrect horse battery staple", a); err != nil {
		t.Fatalf("NFKC-equivalent password: %v", err)
	}
}

// Controls: AUTH-1
func TestRehashOnParameterChange(t *testing.T) {
	ctx := context.Background()
	old := newHasher(t, Options{})
	enc, _ := old.Hash(ctx, "pw-1234567")
	for _, tc := range []struct {
		name string
		o    Options
		want bool
	}{
		{"same parameters", Options{}, false},
		{"more memory", Options{Params: Params{Memory: 32768, Time: 2, Threads: 1}}, true},
		{"more passes", Options{Params: Params{Memory: 19456, Time: 3, Threads: 1}}, true},
		{"pepper added", Options{Pepper: logging.NewSecret("pepper-pepper-pepper")}, true},
	} {
		h := newHasher(t, tc.o)
		if err := h.Verify(ctx, "pw-1234567", enc); err != nil {
			t.Errorf("%s: old hash no longer verifies: %v", tc.name, err)
		}
		if got := h.NeedsRehash(enc); got != tc.want {
			t.Errorf("%s: NeedsRehash = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestPepper(t *testing.T) {
	ctx := context.Background()
	peppered := newHasher(t, Options{Pepper: logging.NewSecret("pepper-one-pepper-one")})
	other := newHasher(t, Options{Pepper: logging.NewSecret("pepper-two-pepper-two")})
	plain := newHasher(t, Options{})
	enc, _ := peppered.Hash(ctx, "pw-1234567")
	if !strings.Contains(enc, ",keyid=") {
		t.Fatalf("peppered hash %q does not name its pepper", enc)
	}
	for _, tc := range []struct {
		name string
		h    *Hasher
		want error
	}{
		{"same pepper", peppered, nil},
		{"other pepper", other, ErrUnknownPepper},
		{"no pepper", plain, ErrUnknownPepper},
	} {
		if err := tc.h.Verify(ctx, "pw-1234567", enc); !errors.Is(err, tc.want) || (err == nil) != (tc.want == nil) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestParamsValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    Params
		ok   bool
	}{
		{"default", DefaultParams, true},
		{"OWASP m=46MiB t=1", Params{Memory: 47104, Time: 1, Threads: 1}, true},
		{"too little memory", Params{Memory: 8192, Time: 2, Threads: 1}, false},
		{"t=1 with minimum memory", Params{Memory: 19456, Time: 1, Threads: 1}, false},
		{"no threads", Params{Memory: 19456, Time: 2}, false},
	} {
		if err := tc.p.Validate(); (err == nil) != tc.ok {
			t.Errorf("%s: Validate = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}

func TestDecodeRejects(t *testing.T) {
	h := newHasher(t, Options{})
	for _, tc := range []struct{ name, enc string }{
		{"empty", ""},
		{"bcrypt", "$2a$10$abcdefghijklmnopqrstuv"},
		{"argon2i", strings.Replace(referencePHC, "argon2id", "argon2i", 1)},
		{"old version", strings.Replace(referencePHC, "v=19", "v=16", 1)},
		{"huge memory", strings.Replace(referencePHC, "m=65536", "m=4294967295", 1)},
		{"leading zero", strings.Replace(referencePHC, "t=2", "t=02", 1)},
		{"padded salt", strings.Replace(referencePHC, "c29tZXNhbHQ", "c29tZXNhbHQ=", 1)},
		{"short key", "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$AAAA"},
		{"bad keyid", strings.Replace(referencePHC, "p=1", "p=1,keyid=!!", 1)},
	} {
		if err := h.Verify(context.Background(), "password", tc.enc); !errors.Is(err, ErrMalformedHash) {
			t.Errorf("%s: err = %v, want ErrMalformedHash", tc.name, err)
		}
		if !h.NeedsRehash(tc.enc) {
			t.Errorf("%s: NeedsRehash = false", tc.name)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(referencePHC)
	f.Add("$argon2id$v=19$m=19456,t=2,p=1,keyid=AAAAAAAA$c29tZXNhbHQ$AAAAAAAAAAAAAAAAAAAAAA")
	f.Add("$argon2id$v=19$m=,t=,p=$$")
	f.Fuzz(func(t *testing.T, s string) {
		p, err := decode(s)
		if err != nil {
			return
		}
		if p.params.Memory > maxMemory || p.params.Time > maxTime || len(p.key) > maxKeyLen {
			t.Fatalf("decode accepted out-of-bounds %q", s)
		}
		if again, err := decode(encode(p)); err != nil || encode(again) != encode(p) {
			t.Fatalf("re-encoding %q does not round-trip: %v", s, err)
		}
	})
}

// At most MaxConcurrent hashes run at once, each in its slot's block
// array: after many concurrent hashes (and one verification of a hash with
// more memory) the slots hold exactly MemoryBound, never more, and with every slot
// taken a hash waits, giving up when its context ends.
//
// Controls: AUTH-1
func TestSlotsBoundConcurrencyAndMemory(t *testing.T) {
	h := newHasher(t, Options{MaxConcurrent: 2})
	ctx := context.Background()
	var wg sync.WaitGroup
	for range 12 {
		wg.Go(func() {
			if _, err := h.Hash(ctx, "pw-1234567"); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Go(func() {
		if err := h.Verify(ctx, "password", referencePHC); err != nil {
			t.Error(err)
		}
	})
	wg.Wait()
	// The scheduler may have run the hashes one after another, leaving a
	// slot unused: hash once in each slot (the channel is FIFO: with one
	// slot held aside, Hash must use the other) so both have grown.
	for range 2 {
		aside := <-h.slots
		if _, err := h.Hash(ctx, "pw-1234567"); err != nil {
			t.Fatal(err)
		}
		h.slots <- aside
	}
	var held int64
	taken := []*argon2id.Memory{<-h.slots, <-h.slots}
	for _, m := range taken {
		held += m.Bytes()
	}
	if want := h.MemoryBound(); held != want || want != 2*19456*1024 {
		t.Fatalf("slots hold %d bytes, MemoryBound %d, want both 2 x 19456 KiB", held, want)
	}
	cctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := h.Hash(cctx, "pw-1234567"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Hash with every slot taken and an expiring ctx: %v", err)
	}
	for _, m := range taken {
		h.slots <- m
	}
	if _, err := h.Hash(ctx, "pw-1234567"); err != nil {
		t.Fatal(err)
	}
}

// Controls: AUTH-11
func TestPolicy(t *testing.T) {
	for _, tc := range []struct {
		name, pw string
		context  []string
		ok       bool
	}{
		{"too short", "Xk9#q", nil, false},
		{"too long", strings.Repeat("x7Q!", 33), nil, false},
		{"common", "password1", nil, false},
		{"l33t common", "P@ssw0rd!", nil, false},
		{"keyboard walk", "qwertyuiop", nil, false},
		{"own email", "alice.wonder@example.com", []string{"alice.wonder@example.com"}, false},
		{"service name", "gatehouse123", nil, false},
		{"passphrase, no digits or symbols", "correct horse battery staple", nil, true},
		{"random", "kx8#Lq2!vR9zW", nil, true},
		{"126 characters", strings.Repeat("lapwing fjord ", 8) + "mulberry trees", nil, true},
		{"unicode", "ümlaut ĉapelo ñandú", nil, true},
	} {
		err := DefaultPolicy.Check(tc.pw, tc.context...)
		var pe *PolicyError
		if (err == nil) != tc.ok || (err != nil && !errors.As(err, &pe)) {
			t.Errorf("%s: Check = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}
