package storetest

import (
	"context"
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/store"
)

// authSealed returns bytes with a valid envelope header naming keyID, enough
// for a store that only reads the key id.
func authSealed(keyID string) []byte {
	b := append([]byte{0x01, byte(len(keyID))}, keyID...)
	return append(b, make([]byte, 12+16+32)...)
}

func authUser(id, email string) store.User {
	return store.User{ID: id, Email: email, Name: "Name " + id, PasswordHash: "$argon2id$x",
		CreatedAt: epoch, UpdatedAt: epoch}
}

// Controls: DATA-1
func testUsers(t *testing.T, open Opener) {
	s, ctx := open(t), context.Background()
	u := authUser("u1", "a@example.com")
	u.EmailVerifiedAt = epoch
	if err := s.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		u    store.User
	}{
		{"same id", authUser("u1", "b@example.com")},
		{"same email", authUser("u2", "a@example.com")},
	} {
		if err := s.CreateUser(ctx, tc.u); !errors.Is(err, store.ErrConflict) {
			t.Errorf("%s: err = %v, want ErrConflict", tc.name, err)
		}
	}
	got, err := s.UserByEmail(ctx, "a@example.com")
	if err != nil || !sameUser(got, u) {
		t.Fatalf("UserByEmail = %+v, %v; want %+v", got, err, u)
	}
	if _, err := s.User(ctx, "nobody"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("User(unknown) err = %v, want ErrNotFound", err)
	}
	if err := s.SetPasswordHash(ctx, "u1", "new", epoch.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.User(ctx, "u1"); got.PasswordHash != "new" || !got.UpdatedAt.Equal(epoch.Add(time.Hour)) {
		t.Fatalf("after SetPasswordHash: %+v", got)
	}
	if err := s.SetPasswordHash(ctx, "nobody", "x", epoch); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("SetPasswordHash(unknown) err = %v, want ErrNotFound", err)
	}
}

// Deleting a user removes everything that names them: sessions, refresh
// tokens, devices, one-time tokens; audit events keep only the opaque id.
//
// Controls: DATA-1
func testUserDelete(t *testing.T, open Opener) {
	s, ctx := open(t), context.Background()
	for _, u := range []store.User{authUser("u1", "a@example.com"), authUser("u2", "b@example.com")} {
		if err := s.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		sess, rt := authSession("s-"+u.ID, u.ID)
		if err := s.CreateSession(ctx, sess, rt); err != nil {
			t.Fatal(err)
		}
		if err := s.RecordDevice(ctx, store.KnownDevice{UserID: u.ID, DeviceID: "d", Network: "192.0.2.0/24",
			FirstSeenAt: epoch, LastSeenAt: epoch}); err != nil {
			t.Fatal(err)
		}
		for _, subject := range []string{u.ID, u.Email} {
			if err := s.CreateOneTimeToken(ctx, store.OneTimeToken{Hash: sha256.Sum256([]byte(subject)),
				Purpose: "p", Subject: subject, CreatedAt: epoch, ExpiresAt: epoch.Add(time.Hour)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := s.DeleteUser(ctx, "u1"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteUser(ctx, "u1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second DeleteUser err = %v, want ErrNotFound", err)
	}
	checks := []struct {
		name string
		err  error
	}{
		{"user", authErr(s.User(ctx, "u1"))},
		{"session", authErr(s.Session(ctx, "s-u1"))},
		{"refresh token", authErr(s.RefreshToken(ctx, sha256.Sum256([]byte("rt-s-u1"))))},
		{"device", s.KnownDevice(ctx, "u1", "d")},
		{"token by id", authErr(s.ConsumeOneTimeToken(ctx, "p", sha256.Sum256([]byte("u1")), epoch))},
		{"token by email", authErr(s.ConsumeOneTimeToken(ctx, "p", sha256.Sum256([]byte("a@example.com")), epoch))},
	}
	for _, c := range checks {
		if !errors.Is(c.err, store.ErrNotFound) {
			t.Errorf("%s of deleted user: err = %v, want ErrNotFound", c.name, c.err)
		}
	}
	if _, err := s.Session(ctx, "s-u2"); err != nil {
		t.Errorf("other user's session: %v", err)
	}
	if err := s.KnownDevice(ctx, "u2", "d"); err != nil {
		t.Errorf("other user's device: %v", err)
	}
}

// sameUser compares users, times by instant (drivers differ in location).
func sameUser(a, b store.User) bool {
	return a.ID == b.ID && a.Email == b.Email && a.Name == b.Name && a.PasswordHash == b.PasswordHash &&
		a.EmailVerifiedAt.Equal(b.EmailVerifiedAt) && a.CreatedAt.Equal(b.CreatedAt) && a.UpdatedAt.Equal(b.UpdatedAt)
}

func authErr[T any](_ T, err error) error { return err }

func testKnownDevices(t *testing.T, open Opener) {
	s, ctx := open(t), context.Background()
	if err := s.CreateUser(ctx, authUser("u1", "a@example.com")); err != nil {
		t.Fatal(err)
	}
	if has, err := s.UserHasDevices(ctx, "u1"); err != nil || has {
		t.Fatalf("UserHasDevices before = %v, %v", has, err)
	}
	d := store.KnownDevice{UserID: "u1", DeviceID: "dev", Network: "192.0.2.0/24", FirstSeenAt: epoch, LastSeenAt: epoch}
	if err := s.RecordDevice(ctx, d); err != nil {
		t.Fatal(err)
	}
	later := d
	later.FirstSeenAt, later.LastSeenAt = epoch.Add(48*time.Hour), epoch.Add(48*time.Hour)
	if err := s.RecordDevice(ctx, later); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name            string
		device, network string
		since           time.Time
		wantSeen        bool
		wantKnownDevice bool
	}{
		{"same pair recent", "dev", "192.0.2.0/24", epoch.Add(24 * time.Hour), true, true},
		{"same pair too old", "dev", "192.0.2.0/24", epoch.Add(72 * time.Hour), false, true},
		{"other network", "dev", "198.51.100.0/24", epoch, false, true},
		{"other device", "dev2", "192.0.2.0/24", epoch, false, false},
	} {
		err := s.SeenDevice(ctx, "u1", tc.device, tc.network, tc.since)
		if (err == nil) != tc.wantSeen || (err != nil && !errors.Is(err, store.ErrNotFound)) {
			t.Errorf("%s: SeenDevice err = %v, want seen=%v", tc.name, err, tc.wantSeen)
		}
		err = s.KnownDevice(ctx, "u1", tc.device)
		if (err == nil) != tc.wantKnownDevice {
			t.Errorf("%s: KnownDevice err = %v, want known=%v", tc.name, err, tc.wantKnownDevice)
		}
	}
	devs, err := s.UserDevices(ctx, "u1")
	if err != nil || len(devs) != 1 || !devs[0].FirstSeenAt.Equal(epoch) || !devs[0].LastSeenAt.Equal(later.LastSeenAt) {
		t.Fatalf("UserDevices = %+v, %v; want one pair first seen at epoch, last seen later", devs, err)
	}
}

// Lockout counting is atomic, restarts after the window, and never
// depends on whether the account exists.
//
// Controls: AUTH-3
func testLockouts(t *testing.T, open Opener) {
	s, ctx := open(t), context.Background()
	const window = 15 * time.Minute
	if l, err := s.Lockout(ctx, "k"); err != nil || l.Failures != 0 || l.Key != "k" {
		t.Fatalf("Lockout(new) = %+v, %v", l, err)
	}
	if err := s.LockAccount(ctx, "k", epoch); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("LockAccount(new) err = %v, want ErrNotFound", err)
	}
	const n = 20
	errs := race(n, func(int) error {
		_, err := s.AddLoginFailure(ctx, "k", epoch, window)
		return err
	})
	for _, err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	l, err := s.AddLoginFailure(ctx, "k", epoch.Add(time.Minute), window)
	if err != nil || l.Failures != n+1 {
		t.Fatalf("after %d concurrent failures and one more: %+v, %v", n, l, err)
	}
	until := epoch.Add(10 * time.Minute)
	if err := s.LockAccount(ctx, "k", until); err != nil {
		t.Fatal(err)
	}
	if l, _ := s.Lockout(ctx, "k"); !l.LockedUntil.Equal(until) {
		t.Fatalf("LockedUntil = %v, want %v", l.LockedUntil, until)
	}
	l, err = s.AddLoginFailure(ctx, "k", epoch.Add(time.Minute+window+time.Second), window)
	if err != nil || l.Failures != 1 {
		t.Fatalf("failure after the window: %+v, %v; want count restarted at 1", l, err)
	}
	if n, err := s.PurgeLockouts(ctx, epoch.Add(time.Hour)); err != nil || n != 1 {
		t.Fatalf("PurgeLockouts = %d, %v; want 1", n, err)
	}
	if err := s.ClearLockout(ctx, "k"); err != nil {
		t.Fatal(err)
	}
}
