package envelope_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/gatehouse-dev/gatehouse/shared/envelope"
	"github.com/gatehouse-dev/gatehouse/shared/envelope/internal/fakekms"
	"github.com/gatehouse-dev/gatehouse/shared/events"
	"github.com/gatehouse-dev/gatehouse/shared/store"
)

var (
	ctx     = context.Background()
	binding = envelope.Binding{Org: "org_1", Record: "cred_1", Field: "refresh_token"}
	secret  = []byte("ya29.a0-refresh-token-value")
)

func seal(tb testing.TB, kr *envelope.Keyring, p envelope.Purpose, b envelope.Binding, pt []byte) []byte {
	tb.Helper()
	ct, err := kr.Seal(ctx, p, b, pt)
	if err != nil {
		tb.Fatalf("Seal: %v", err)
	}
	return ct
}

func mustOpen(tb testing.TB, kr *envelope.Keyring, p envelope.Purpose, b envelope.Binding, ct, want []byte) {
	tb.Helper()
	got, err := kr.Open(ctx, p, b, ct)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	if !bytes.Equal(got, want) {
		tb.Fatalf("Open = %q, want %q", got, want)
	}
}

// Controls: CRED-1, CRED-2, CRED-3
func TestSealOpenRoundTrip(t *testing.T) {
	kr := newFileKeyring(t)
	tests := []struct {
		name string
		p    envelope.Purpose
		b    envelope.Binding
		pt   []byte
	}{
		{name: "credential", p: envelope.PurposeCredential, b: binding, pt: secret},
		{name: "totp", p: envelope.PurposeTOTP, b: envelope.Binding{Org: "o", Record: "u", Field: "totp"}, pt: []byte("JBSWY3DPEHPK3PXP")},
		{name: "oauth state, no org", p: envelope.PurposeOAuthState, b: envelope.Binding{Record: "state_1"}, pt: []byte("verifier")},
		{name: "signing key, empty binding", p: envelope.PurposeSigningKey, pt: bytes.Repeat([]byte{7}, 64)},
		{name: "empty plaintext", p: envelope.PurposeCredential, b: binding, pt: []byte{}},
		{name: "large plaintext", p: envelope.PurposeCredential, b: binding, pt: bytes.Repeat([]byte("x"), 1<<16)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ct := seal(t, kr, tt.p, tt.b, tt.pt)
			if bytes.Contains(ct, tt.pt) && len(tt.pt) > 0 {
				t.Fatal("ciphertext contains the plaintext")
			}
			mustOpen(t, kr, tt.p, tt.b, ct, tt.pt)
		})
	}
}

// Controls: CRED-1
func TestSealUsesFreshNonces(t *testing.T) {
	kr := newFileKeyring(t)
	a, b := seal(t, kr, envelope.PurposeCredential, binding, secret), seal(t, kr, envelope.PurposeCredential, binding, secret)
	if bytes.Equal(a, b) {
		t.Fatal("two seals of the same plaintext are equal")
	}
	id, _ := envelope.KeyID(a)
	hdr := 2 + len(id)
	if bytes.Equal(a[hdr:hdr+12], b[hdr:hdr+12]) {
		t.Fatal("nonce repeated")
	}
	if want := hdr + 12 + len(secret) + 16; len(a) != want {
		t.Fatalf("ciphertext is %d bytes, want header+nonce+plaintext+tag = %d", len(a), want)
	}
}

// Controls: CRED-1, CRED-5, APP-6
func TestOpenFailsOnAnyFlippedByte(t *testing.T) {
	kr := newFileKeyring(t)
	ct := seal(t, kr, envelope.PurposeCredential, binding, secret)
	for i := range ct {
		for _, mask := range []byte{0x01, 0x80, 0xff} {
			bad := bytes.Clone(ct)
			bad[i] ^= mask
			_, err := kr.Open(ctx, envelope.PurposeCredential, binding, bad)
			if !errors.Is(err, envelope.ErrPermanent) {
				t.Fatalf("byte %d ^ %#x: Open error %v, want ErrPermanent", i, mask, err)
			}
		}
	}
}

// Controls: CRED-1, CRED-2
func TestOpenFailsOutsideItsBinding(t *testing.T) {
	kr := newFileKeyring(t)
	ct := seal(t, kr, envelope.PurposeCredential, binding, secret)
	tests := []struct {
		name string
		p    envelope.Purpose
		b    envelope.Binding
	}{
		{name: "other organization", p: envelope.PurposeCredential, b: envelope.Binding{Org: "org_2", Record: binding.Record, Field: binding.Field}},
		{name: "other record", p: envelope.PurposeCredential, b: envelope.Binding{Org: binding.Org, Record: "cred_2", Field: binding.Field}},
		{name: "other field", p: envelope.PurposeCredential, b: envelope.Binding{Org: binding.Org, Record: binding.Record, Field: "access_token"}},
		{name: "other purpose", p: envelope.PurposeTOTP, b: binding},
		{name: "shifted boundary", p: envelope.PurposeCredential, b: envelope.Binding{Org: "org_1c", Record: "red_1", Field: binding.Field}},
		{name: "fields swapped", p: envelope.PurposeCredential, b: envelope.Binding{Org: binding.Record, Record: binding.Org, Field: binding.Field}},
		{name: "empty binding", p: envelope.PurposeCredential},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := kr.Open(ctx, tt.p, tt.b, ct)
			if !errors.Is(err, envelope.ErrDecrypt) || !errors.Is(err, envelope.ErrPermanent) {
				t.Fatalf("Open error %v, want ErrDecrypt (permanent)", err)
			}
		})
	}
}

// Controls: CRED-5, APP-6
func TestOpenTruncatedFailsCleanly(t *testing.T) {
	kr := newFileKeyring(t)
	ct := seal(t, kr, envelope.PurposeCredential, binding, secret)
	for n := range len(ct) {
		_, err := kr.Open(ctx, envelope.PurposeCredential, binding, ct[:n])
		if !errors.Is(err, envelope.ErrPermanent) {
			t.Fatalf("first %d bytes: Open error %v, want ErrPermanent", n, err)
		}
	}
	if _, err := kr.Open(ctx, envelope.PurposeCredential, binding, append(bytes.Clone(ct), 0)); !errors.Is(err, envelope.ErrDecrypt) {
		t.Fatalf("extended ciphertext: Open error %v, want ErrDecrypt", err)
	}
}

func TestUnknownPurposeIsRejected(t *testing.T) {
	kr := newFileKeyring(t)
	if _, err := kr.Seal(ctx, "gatehouse/other/v1", binding, secret); err == nil {
		t.Fatal("Seal accepted an unknown purpose")
	}
	ct := seal(t, kr, envelope.PurposeCredential, binding, secret)
	if _, err := kr.Open(ctx, envelope.Purpose("gatehouse/credential/v2"), binding, ct); err == nil {
		t.Fatal("Open accepted an unknown purpose")
	}
}

func TestKeyIDReadsHeader(t *testing.T) {
	e := newEnv(t, envelope.Options{})
	dk, err := e.kr.Rotate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	id, err := envelope.KeyID(seal(t, e.kr, envelope.PurposeCredential, binding, secret))
	if err != nil || id != dk.ID {
		t.Fatalf("KeyID = %q, %v; want %q", id, err, dk.ID)
	}
	if _, err := envelope.KeyID([]byte{1, 2, 'a'}); !errors.Is(err, envelope.ErrMalformed) {
		t.Fatalf("KeyID of garbage: %v, want ErrMalformed", err)
	}
}

// Controls: CRED-4
func TestKeyNeverPrints(t *testing.T) {
	key, err := envelope.KeyFromBytes(bytes.Repeat([]byte{0xab}, envelope.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	var logged bytes.Buffer
	// No time attribute: a timestamp's digits could contain "171" (0xab in decimal).
	noTime := &slog.HandlerOptions{ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		if len(groups) == 0 && a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}}
	slog.New(slog.NewJSONHandler(&logged, noTime)).Info("k", "key", key, "val", *key)
	outs := []string{logged.String()}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%X", "%d", "%q"} {
		outs = append(outs, fmt.Sprintf(verb, key), fmt.Sprintf(verb, *key))
	}
	for _, out := range outs {
		if !strings.Contains(out, "[REDACTED]") || strings.Contains(strings.ToLower(out), "abab") ||
			strings.Contains(out, "171") {
			t.Fatalf("key printed as %q", out)
		}
	}
}

// Controls: CRED-8
func TestRotateKeepsOldCiphertextsOpen(t *testing.T) {
	e := newEnv(t, envelope.Options{})
	old := seal(t, e.kr, envelope.PurposeCredential, binding, secret)
	oldID, _ := envelope.KeyID(old)
	dk, err := e.kr.Rotate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if dk.ID == oldID || dk.State != store.DataKeyPrimary || len(dk.Wrapped) == 0 {
		t.Fatalf("Rotate = %+v, want a new wrapped primary", dk)
	}
	fresh := seal(t, e.kr, envelope.PurposeCredential, binding, []byte("new"))
	if id, _ := envelope.KeyID(fresh); id != dk.ID {
		t.Fatalf("sealed under %s after Rotate, want new primary %s", id, dk.ID)
	}
	prev, err := e.store.DataKey(ctx, oldID)
	if err != nil || prev.State != store.DataKeyDecryptOnly {
		t.Fatalf("old key = %+v, %v; want decrypt-only", prev, err)
	}
	other := e.keyring(t, envelope.Options{}) // another instance, cold cache
	mustOpen(t, other, envelope.PurposeCredential, binding, old, secret)
	mustOpen(t, other, envelope.PurposeCredential, binding, fresh, []byte("new"))
	resealed, err := other.Reseal(ctx, envelope.PurposeCredential, binding, old)
	if err != nil {
		t.Fatal(err)
	}
	if id, _ := envelope.KeyID(resealed); id != dk.ID {
		t.Fatalf("Reseal used %s, want primary %s", id, dk.ID)
	}
	mustOpen(t, e.kr, envelope.PurposeCredential, binding, resealed, secret)
}

// Controls: CRED-3, CRED-8
func TestKeysStoredWrappedWithKEKVersion(t *testing.T) {
	e := newEnv(t, envelope.Options{})
	e.kms.AddVersion()
	dk, err := e.kr.Rotate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := e.store.DataKey(ctx, dk.ID)
	if err != nil {
		t.Fatal(err)
	}
	if stored.KEKVersion != e.kms.PrimaryVersion() || !strings.HasSuffix(stored.KEKVersion, "/cryptoKeyVersions/2") {
		t.Fatalf("KEKVersion = %q, want %q", stored.KEKVersion, e.kms.PrimaryVersion())
	}
	if len(stored.Wrapped) < envelope.KeySize+16 {
		t.Fatalf("wrapped key is %d bytes: not a KMS ciphertext", len(stored.Wrapped))
	}
}

// Controls: CRED-8
func TestRewrapMovesKeyToCurrentKEKVersion(t *testing.T) {
	e := newEnv(t, envelope.Options{})
	ct := seal(t, e.kr, envelope.PurposeCredential, binding, secret)
	id, _ := envelope.KeyID(ct)
	e.kms.AddVersion()
	enc0, dec0 := e.kms.Calls()
	dk, err := e.kr.Rewrap(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if enc, dec := e.kms.Calls(); enc-enc0 != 1 || dec-dec0 != 1 {
		t.Fatalf("Rewrap made %d encrypt and %d decrypt calls, want 1 and 1", enc-enc0, dec-dec0)
	}
	stored, err := e.store.DataKey(ctx, id)
	if err != nil || stored.KEKVersion != e.kms.PrimaryVersion() || !bytes.Equal(stored.Wrapped, dk.Wrapped) {
		t.Fatalf("stored = %+v, %v; want wrapped under %s", stored, err, e.kms.PrimaryVersion())
	}
	mustOpen(t, e.keyring(t, envelope.Options{}), envelope.PurposeCredential, binding, ct, secret)
}

// Controls: CRED-5, CRED-8
func TestDestroyedKeyIsPermanentFailure(t *testing.T) {
	e := newEnv(t, envelope.Options{PrimaryTTL: time.Minute})
	ct := seal(t, e.kr, envelope.PurposeCredential, binding, secret)
	id, _ := envelope.KeyID(ct)
	if err := e.kr.Destroy(ctx, id); err == nil {
		t.Fatal("Destroy of the primary key succeeded")
	}
	if _, err := e.kr.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := e.kr.Destroy(ctx, id); err == nil {
		t.Fatal("Destroy succeeded while other instances may still seal under the key")
	}
	e.clock.advance(time.Minute)
	if err := e.kr.Destroy(ctx, id); err != nil {
		t.Fatal(err)
	}
	for name, kr := range map[string]*envelope.Keyring{"same instance": e.kr, "cold instance": e.keyring(t, envelope.Options{})} {
		_, err := kr.Open(ctx, envelope.PurposeCredential, binding, ct)
		if !errors.Is(err, envelope.ErrKeyDestroyed) || !errors.Is(err, envelope.ErrPermanent) || errors.Is(err, envelope.ErrUnavailable) {
			t.Errorf("%s: Open error %v, want ErrKeyDestroyed (permanent)", name, err)
		}
	}
	if _, err := e.kr.Rewrap(ctx, id); !errors.Is(err, envelope.ErrKeyDestroyed) {
		t.Errorf("Rewrap of destroyed key: %v, want ErrKeyDestroyed", err)
	}
	if err := e.kr.Destroy(ctx, "dk_missing"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Destroy of unknown key: %v, want ErrNotFound", err)
	}
}

// Controls: CRED-5, APP-5
func TestStoreFailureIsRetryable(t *testing.T) {
	e := newEnv(t, envelope.Options{})
	ct := seal(t, e.kr, envelope.PurposeCredential, binding, secret)
	cold := e.keyring(t, envelope.Options{})
	e.store.Close() // the database goes away
	_, err := cold.Open(ctx, envelope.PurposeCredential, binding, ct)
	if !errors.Is(err, envelope.ErrUnavailable) || errors.Is(err, envelope.ErrPermanent) {
		t.Fatalf("Open with the store down: %v, want ErrUnavailable", err)
	}
	if _, err := cold.Seal(ctx, envelope.PurposeCredential, binding, secret); !errors.Is(err, envelope.ErrUnavailable) {
		t.Fatalf("Seal with the store down: %v, want ErrUnavailable", err)
	}
}

// Controls: CRED-5, APP-5, APP-6
func TestKMSOutageIsRetryable(t *testing.T) {
	e := newEnv(t, envelope.Options{})
	e.kms.SetFault(fakekms.Fault{Code: codes.ResourceExhausted}) // quota; the client does not retry it
	if _, err := e.kr.Seal(ctx, envelope.PurposeCredential, binding, secret); !errors.Is(err, envelope.ErrUnavailable) {
		t.Fatalf("first Seal with KMS down: %v, want ErrUnavailable", err)
	}
	if keys, err := e.store.ListDataKeys(ctx); err != nil || len(keys) != 0 {
		t.Fatalf("failed Seal left data keys %v, %v", keys, err)
	}
	e.kms.SetFault(fakekms.Fault{})
	ct := seal(t, e.kr, envelope.PurposeCredential, binding, secret)
	cold := e.keyring(t, envelope.Options{})
	e.kms.SetFault(fakekms.Fault{Code: codes.ResourceExhausted})
	_, err := cold.Open(ctx, envelope.PurposeCredential, binding, ct)
	if !errors.Is(err, envelope.ErrUnavailable) || errors.Is(err, envelope.ErrPermanent) {
		t.Fatalf("Open with KMS down: %v, want ErrUnavailable", err)
	}
	e.kms.SetFault(fakekms.Fault{})
	mustOpen(t, cold, envelope.PurposeCredential, binding, ct, secret) // the failure was not cached
}

// A Keyring that announces rotations needs a store that runs
// transactions, so the key and its event commit together; one without is
// refused at construction rather than announcing outside the key's
// transaction.
func TestEventsNeedTransactions(t *testing.T) {
	e := newEnv(t, envelope.Options{})
	ev := &events.Emitter{Topic: "projects/p/topics/t"}
	if _, err := envelope.New(struct{ envelope.DataKeyStore }{e.store}, e.kek, envelope.Options{Events: ev}); err == nil {
		t.Fatal("New accepted Events over a store without transactions")
	}
	if _, err := envelope.New(e.store, e.kek, envelope.Options{Events: ev}); err != nil {
		t.Fatalf("New with Events over a store.Store: %v", err)
	}
}
