package envelope_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/envelope"
)

// sealUnderKeys rotates n times and seals one secret under each new primary.
func sealUnderKeys(tb testing.TB, e *env, n int) [][]byte {
	tb.Helper()
	cts := make([][]byte, n)
	for i := range cts {
		if _, err := e.kr.Rotate(ctx); err != nil {
			tb.Fatal(err)
		}
		cts[i] = seal(tb, e.kr, envelope.PurposeCredential, binding, fmt.Appendf(nil, "secret %d", i))
	}
	return cts
}

// Controls: CRED-3
func TestWarmOpenMakesNoKMSCall(t *testing.T) {
	e := newEnv(t, envelope.Options{})
	const keys = 3
	cts := sealUnderKeys(t, e, keys)
	cold := e.keyring(t, envelope.Options{})
	before := e.decrypts()
	for i := range 10_000 {
		j := i % keys
		mustOpen(t, cold, envelope.PurposeCredential, binding, cts[j], fmt.Appendf(nil, "secret %d", j))
	}
	if got := e.decrypts() - before; got != keys {
		t.Fatalf("10,000 opens made %d KMS decrypt calls, want %d (one per data key)", got, keys)
	}
}

// Controls: CRED-3, CRED-4
func TestCacheExpiresAfterTTL(t *testing.T) {
	e := newEnv(t, envelope.Options{})
	ct := sealUnderKeys(t, e, 1)[0]
	kr := e.keyring(t, envelope.Options{CacheTTL: time.Minute})
	tests := []struct {
		name      string
		advance   time.Duration
		wantCalls int
	}{
		{name: "cold", advance: 0, wantCalls: 1},
		{name: "warm", advance: 0, wantCalls: 0},
		{name: "used again just before expiry", advance: time.Minute - time.Nanosecond, wantCalls: 0},
		{name: "expired although used", advance: time.Nanosecond, wantCalls: 1},
		{name: "warm again", advance: 30 * time.Second, wantCalls: 0},
	}
	for _, tt := range tests {
		e.clock.advance(tt.advance)
		before := e.decrypts()
		mustOpen(t, kr, envelope.PurposeCredential, binding, ct, []byte("secret 0"))
		if got := e.decrypts() - before; got != tt.wantCalls {
			t.Fatalf("%s: %d KMS calls, want %d", tt.name, got, tt.wantCalls)
		}
	}
}

// Controls: CRED-3, CRED-4
func TestCacheSizeIsBounded(t *testing.T) {
	e := newEnv(t, envelope.Options{})
	cts := sealUnderKeys(t, e, 3)
	kr := e.keyring(t, envelope.Options{CacheSize: 2})
	open := func(i int) int {
		before := e.decrypts()
		mustOpen(t, kr, envelope.PurposeCredential, binding, cts[i], fmt.Appendf(nil, "secret %d", i))
		return e.decrypts() - before
	}
	tests := []struct {
		name      string
		key       int
		wantCalls int
	}{
		{name: "load 0", key: 0, wantCalls: 1},
		{name: "load 1", key: 1, wantCalls: 1},
		{name: "0 cached, now most recent", key: 0, wantCalls: 0},
		{name: "load 2 evicts 1, the least recent", key: 2, wantCalls: 1},
		{name: "0 still cached", key: 0, wantCalls: 0},
		{name: "1 was evicted", key: 1, wantCalls: 1},
	}
	for _, tt := range tests {
		if got := open(tt.key); got != tt.wantCalls {
			t.Fatalf("%s: %d KMS calls, want %d", tt.name, got, tt.wantCalls)
		}
	}
}

// Controls: CRED-5
func TestDestroyEvictsFromCache(t *testing.T) {
	e := newEnv(t, envelope.Options{CacheTTL: 24 * time.Hour, PrimaryTTL: time.Second})
	cts := sealUnderKeys(t, e, 2) // cts[0] under a demoted key, cached
	id, _ := envelope.KeyID(cts[0])
	e.clock.advance(time.Second)
	before := e.decrypts()
	mustOpen(t, e.kr, envelope.PurposeCredential, binding, cts[0], []byte("secret 0"))
	if e.decrypts() != before {
		t.Fatal("key was not cached before Destroy")
	}
	if err := e.kr.Destroy(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := e.kr.Open(ctx, envelope.PurposeCredential, binding, cts[0]); !errors.Is(err, envelope.ErrKeyDestroyed) {
		t.Fatalf("Open after Destroy: %v, want ErrKeyDestroyed", err)
	}
	mustOpen(t, e.kr, envelope.PurposeCredential, binding, cts[1], []byte("secret 1"))
}
