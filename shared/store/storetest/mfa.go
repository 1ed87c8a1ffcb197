package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/store"
)

// fakeSealed returns bytes shaped like an envelope v1 ciphertext sealed
// under keyID; the store reads only the header.
func fakeSealed(keyID string) []byte {
	b := append([]byte{1, byte(len(keyID))}, keyID...)
	return append(b, make([]byte, 12+16+20)...)
}

// Controls: AUTH-5
func testTOTPSecrets(t *testing.T, open Opener) {
	s, ctx := open(t), context.Background()
	sec := store.TOTPSecret{ID: "t1", UserID: "alice", Secret: fakeSealed("k1"), CreatedAt: epoch}
	if err := s.PutTOTPSecret(ctx, sec); err != nil {
		t.Fatal(err)
	}
	if err := s.UseTOTPStep(ctx, "alice", 5); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("using an unconfirmed secret: err = %v, want ErrNotFound", err)
	}
	// A new enrollment replaces an unconfirmed one.
	sec.ID, sec.Secret = "t2", fakeSealed("k2")
	if err := s.PutTOTPSecret(ctx, sec); err != nil {
		t.Fatal(err)
	}
	got, err := s.TOTPSecret(ctx, "alice")
	if err != nil || got.ID != "t2" || !bytes.Equal(got.Secret, sec.Secret) || !got.ConfirmedAt.IsZero() {
		t.Fatalf("TOTPSecret = %+v, %v", got, err)
	}
	if err := s.ConfirmTOTPSecret(ctx, "alice", 100, epoch); err != nil {
		t.Fatal(err)
	}
	if err := s.ConfirmTOTPSecret(ctx, "alice", 101, epoch); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("second confirm: err = %v, want ErrConflict", err)
	}
	if err := s.PutTOTPSecret(ctx, store.TOTPSecret{ID: "t3", UserID: "alice", Secret: fakeSealed("k3"), CreatedAt: epoch}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("enrolling over a confirmed secret: err = %v, want ErrConflict", err)
	}
	for _, tc := range []struct {
		name string
		user string
		step int64
		want error
	}{
		{"confirming step replayed", "alice", 100, store.ErrUsed},
		{"earlier step", "alice", 99, store.ErrUsed},
		{"next step", "alice", 101, nil},
		{"same step again", "alice", 101, store.ErrUsed},
		{"other user", "bob", 500, store.ErrNotFound},
	} {
		if err := s.UseTOTPStep(ctx, tc.user, tc.step); !errors.Is(err, tc.want) || (err == nil) != (tc.want == nil) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
	}
	if got, _ := s.TOTPSecret(ctx, "alice"); got.LastStep != 101 || !got.ConfirmedAt.Equal(epoch) {
		t.Fatalf("after use: %+v", got)
	}
	if err := s.DeleteTOTPSecret(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteTOTPSecret(ctx, "alice"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second delete: err = %v, want ErrNotFound", err)
	}
}

// 50 goroutines present a code of the same time step: exactly one is accepted.
//
// Controls: AUTH-5
func testTOTPReplayRace(t *testing.T, open Opener) {
	s, ctx := open(t), context.Background()
	if err := s.PutTOTPSecret(ctx, store.TOTPSecret{ID: "t", UserID: "u", Secret: fakeSealed("k"), CreatedAt: epoch}); err != nil {
		t.Fatal(err)
	}
	if err := s.ConfirmTOTPSecret(ctx, "u", 10, epoch); err != nil {
		t.Fatal(err)
	}
	exactlyOne(t, race(50, func(int) error { return s.UseTOTPStep(ctx, "u", 11) }), store.ErrUsed)
}

// Controls: AUTH-5
func testRecoveryCodes(t *testing.T, open Opener) {
	s, ctx := open(t), context.Background()
	h := func(s string) [32]byte { return sha256.Sum256([]byte(s)) }
	if err := s.ReplaceRecoveryCodes(ctx, "alice", [][32]byte{h("a1"), h("a2"), h("a3")}, epoch); err != nil {
		t.Fatal(err)
	}
	if err := s.ReplaceRecoveryCodes(ctx, "bob", [][32]byte{h("b1")}, epoch); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		user string
		hash [32]byte
		want error
	}{
		{"valid", "alice", h("a1"), nil},
		{"reused", "alice", h("a1"), store.ErrUsed},
		{"another user's code", "alice", h("b1"), store.ErrNotFound},
		{"unknown", "alice", h("zz"), store.ErrNotFound},
	} {
		if err := s.UseRecoveryCode(ctx, tc.user, tc.hash, epoch); !errors.Is(err, tc.want) || (err == nil) != (tc.want == nil) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
	}
	if n, err := s.RecoveryCodesLeft(ctx, "alice"); err != nil || n != 2 {
		t.Fatalf("RecoveryCodesLeft = %d, %v; want 2", n, err)
	}
	exactlyOne(t, race(30, func(int) error { return s.UseRecoveryCode(ctx, "alice", h("a2"), epoch) }), store.ErrUsed)
	// Regenerating invalidates every old code.
	if err := s.ReplaceRecoveryCodes(ctx, "alice", [][32]byte{h("n1")}, epoch); err != nil {
		t.Fatal(err)
	}
	if err := s.UseRecoveryCode(ctx, "alice", h("a3"), epoch); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("old code after regeneration: err = %v, want ErrNotFound", err)
	}
	if err := s.DeleteRecoveryCodes(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.RecoveryCodesLeft(ctx, "alice"); n != 0 {
		t.Fatalf("%d codes left after delete", n)
	}
	if n, _ := s.RecoveryCodesLeft(ctx, "bob"); n != 1 {
		t.Fatalf("deleting alice's codes changed bob's: %d left", n)
	}
}

func webauthnCred(id, user string, credID byte) store.WebAuthnCredential {
	return store.WebAuthnCredential{ID: id, UserID: user, CredentialID: []byte{credID, 1, 2, 3},
		PublicKey: []byte("cose-key-" + id), SignCount: 5, Transports: []string{"usb", "nfc"},
		AAGUID: make([]byte, 16), BackupEligible: true, CreatedAt: epoch}
}

// Controls: AUTH-5
func testWebAuthnCredentials(t *testing.T, open Opener) {
	s, ctx := open(t), context.Background()
	h1, err := s.WebAuthnHandle(ctx, "alice", []byte("handle-alice"), epoch)
	if err != nil || string(h1) != "handle-alice" {
		t.Fatalf("WebAuthnHandle = %q, %v", h1, err)
	}
	if h, _ := s.WebAuthnHandle(ctx, "alice", []byte("another"), epoch); string(h) != "handle-alice" {
		t.Fatalf("handle changed to %q; a handle is stable", h)
	}
	if _, err := s.WebAuthnHandle(ctx, "bob", []byte("handle-alice"), epoch); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("reusing alice's handle: err = %v, want ErrConflict", err)
	}
	if u, err := s.WebAuthnUserByHandle(ctx, []byte("handle-alice")); err != nil || u != "alice" {
		t.Fatalf("WebAuthnUserByHandle = %q, %v", u, err)
	}
	c := webauthnCred("c1", "alice", 9)
	if err := s.CreateWebAuthnCredential(ctx, c); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateWebAuthnCredential(ctx, webauthnCred("c2", "bob", 9)); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate credential id: err = %v, want ErrConflict", err)
	}
	got, err := s.WebAuthnCredentials(ctx, "alice")
	if err != nil || len(got) != 1 || got[0].SignCount != 5 || len(got[0].Transports) != 2 ||
		!got[0].BackupEligible || got[0].CloneWarning || !bytes.Equal(got[0].PublicKey, c.PublicKey) {
		t.Fatalf("WebAuthnCredentials = %+v, %v", got, err)
	}
	use := func(user, id string, count uint32) error {
		return s.UseWebAuthnCredential(ctx, user, id, store.WebAuthnUse{SignCount: count, Time: epoch.Add(time.Minute)})
	}
	if err := use("bob", "c1", 6); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("bob using alice's credential: err = %v, want ErrNotFound", err)
	}
	if err := use("alice", "c1", 6); err != nil {
		t.Fatal(err)
	}
	if err := use("alice", "c1", 6); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("counter not advancing: err = %v, want ErrConflict", err)
	}
	got, _ = s.WebAuthnCredentials(ctx, "alice")
	if !got[0].CloneWarning || got[0].SignCount != 6 || !got[0].LastUsedAt.Equal(epoch.Add(time.Minute)) {
		t.Fatalf("after a counter going backwards: %+v; want clone warning, count 6", got[0])
	}
	if err := use("alice", "c1", 50); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("credential with a clone warning used: err = %v, want ErrConflict", err)
	}
	if err := s.RenameWebAuthnCredential(ctx, "bob", "c1", "stolen"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("bob renaming alice's credential: err = %v, want ErrNotFound", err)
	}
	if err := s.RenameWebAuthnCredential(ctx, "alice", "c1", "Work laptop"); err != nil {
		t.Fatal(err)
	}
	if got, _ = s.WebAuthnCredentials(ctx, "alice"); got[0].Name != "Work laptop" || !got[0].CloneWarning {
		t.Fatalf("after renaming: %+v", got[0])
	}
	if err := s.DeleteWebAuthnCredential(ctx, "bob", "c1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("bob deleting alice's credential: err = %v, want ErrNotFound", err)
	}
	if err := s.DeleteWebAuthnCredential(ctx, "alice", "c1"); err != nil {
		t.Fatal(err)
	}
}

// Two assertions carrying the same counter value race: one is accepted.
//
// Controls: AUTH-5
func testWebAuthnCounterRace(t *testing.T, open Opener) {
	s, ctx := open(t), context.Background()
	if err := s.CreateWebAuthnCredential(ctx, webauthnCred("c", "u", 1)); err != nil {
		t.Fatal(err)
	}
	exactlyOne(t, race(30, func(int) error {
		return s.UseWebAuthnCredential(ctx, "u", "c", store.WebAuthnUse{SignCount: 6, Time: epoch})
	}), store.ErrConflict)
}

func testDeleteUserMFA(t *testing.T, open Opener) {
	s, ctx := open(t), context.Background()
	for _, u := range []string{"alice", "bob"} {
		if err := s.PutTOTPSecret(ctx, store.TOTPSecret{ID: "t-" + u, UserID: u, Secret: fakeSealed("k"), CreatedAt: epoch}); err != nil {
			t.Fatal(err)
		}
		if err := s.ReplaceRecoveryCodes(ctx, u, [][32]byte{sha256.Sum256([]byte(u))}, epoch); err != nil {
			t.Fatal(err)
		}
		if _, err := s.WebAuthnHandle(ctx, u, []byte("h-"+u), epoch); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateWebAuthnCredential(ctx, webauthnCred("c-"+u, u, u[0])); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DeleteUserMFA(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.TOTPSecret(ctx, "alice"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("alice's TOTP secret survived: %v", err)
	}
	if cs, _ := s.WebAuthnCredentials(ctx, "alice"); len(cs) != 0 {
		t.Fatal("alice's credentials survived")
	}
	if _, err := s.WebAuthnUserByHandle(ctx, []byte("h-alice")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("alice's handle survived: %v", err)
	}
	if n, _ := s.RecoveryCodesLeft(ctx, "alice"); n != 0 {
		t.Fatal("alice's recovery codes survived")
	}
	if _, err := s.TOTPSecret(ctx, "bob"); err != nil {
		t.Fatalf("bob's factors were deleted too: %v", err)
	}
}
