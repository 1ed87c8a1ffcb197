package storetest

import (
	"context"
	"crypto/sha256"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/store"
)

// authSession returns a session of userID and its first refresh token, whose
// hash is sha256("rt-" + id).
func authSession(id, userID string) (store.Session, store.RefreshToken) {
	s := store.Session{ID: id, UserID: userID, CreatedAt: epoch, LastSeenAt: epoch,
		IdleExpiresAt: epoch.Add(time.Hour), AbsoluteExpiresAt: epoch.Add(24 * time.Hour),
		Network: "192.0.2.0/24", UserAgent: "test", DeviceID: "dev", AuthMethods: []string{"pwd"},
		AuthLevel: 1, AuthTime: epoch, RefreshKey: authSealed("dk1")}
	return s, store.RefreshToken{Hash: sha256.Sum256([]byte("rt-" + id)), IssuedAt: epoch}
}

// signedIn creates user u1 with session s1 in s and returns the session's
// refresh token.
func signedIn(t *testing.T, s store.Store) store.RefreshToken {
	t.Helper()
	ctx := context.Background()
	if err := s.CreateUser(ctx, authUser("u1", "a@example.com")); err != nil {
		t.Fatal(err)
	}
	sess, rt := authSession("s1", "u1")
	if err := s.CreateSession(ctx, sess, rt); err != nil {
		t.Fatal(err)
	}
	return rt
}

// Controls: AUTH-6
// sameCheck fails t unless SessionCheck(id) has exactly Session(id)'s
// fields that a request check needs, and no others.
func sameCheck(t *testing.T, s store.Store, id string) {
	t.Helper()
	full, err := s.Session(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.SessionCheck(context.Background(), id)
	want := store.Session{ID: full.ID, UserID: full.UserID, CreatedAt: full.CreatedAt, IdleExpiresAt: full.IdleExpiresAt,
		AbsoluteExpiresAt: full.AbsoluteExpiresAt, AuthMethods: full.AuthMethods, AuthLevel: full.AuthLevel,
		AuthTime: full.AuthTime, RevokedAt: full.RevokedAt, LastSeenAt: full.LastSeenAt, LongestIdle: full.LongestIdle}
	if err != nil || got.ID != want.ID || got.UserID != want.UserID || !got.IdleExpiresAt.Equal(want.IdleExpiresAt) ||
		!got.AbsoluteExpiresAt.Equal(want.AbsoluteExpiresAt) || !slices.Equal(got.AuthMethods, want.AuthMethods) ||
		got.AuthLevel != want.AuthLevel || !got.AuthTime.Equal(want.AuthTime) || !got.RevokedAt.Equal(want.RevokedAt) ||
		got.Network != "" || got.UserAgent != "" || got.RefreshKey != nil || !got.CreatedAt.Equal(want.CreatedAt) ||
		!got.LastSeenAt.Equal(want.LastSeenAt) || got.LongestIdle != want.LongestIdle {
		t.Fatalf("SessionCheck(%s) = %+v, %v; want %+v", id, got, err, want)
	}
}

func testSessions(t *testing.T, open Opener) {
	s, ctx := open(t), context.Background()
	if err := s.CreateUser(ctx, authUser("u1", "a@example.com")); err != nil {
		t.Fatal(err)
	}
	s1, rt1 := authSession("s1", "u1")
	s2, rt2 := authSession("s2", "u1")
	s2.CreatedAt = epoch.Add(time.Second)
	for _, c := range []struct {
		s  store.Session
		rt store.RefreshToken
	}{{s1, rt1}, {s2, rt2}} {
		if err := s.CreateSession(ctx, c.s, c.rt); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CreateSession(ctx, s1, rt1); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate session: err = %v, want ErrConflict", err)
	}
	got, err := s.Session(ctx, "s1")
	if err != nil || got.UserID != "u1" || !slices.Equal(got.AuthMethods, []string{"pwd"}) ||
		!slices.Equal(got.RefreshKey, s1.RefreshKey) || !got.Active(epoch) || got.Active(epoch.Add(time.Hour)) {
		t.Fatalf("Session = %+v, %v", got, err)
	}
	if err := s.SetSessionAuth(ctx, "s1", []string{"pwd", "otp"}, 2, epoch.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Session(ctx, "s1"); got.AuthLevel != 2 || !got.AuthTime.Equal(epoch.Add(time.Minute)) ||
		!slices.Equal(got.AuthMethods, []string{"pwd", "otp"}) {
		t.Fatalf("after SetSessionAuth: %+v", got)
	}
	sameCheck(t, s, "s1")
	// The longest idle gap only grows, reads back through every read of a
	// session, and cannot be recorded on an unknown session.
	for _, gap := range []time.Duration{20 * time.Minute, 10 * time.Minute} {
		if err := s.RecordSessionIdle(ctx, "s1", gap); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := s.Session(ctx, "s1"); err != nil || got.LongestIdle != 20*time.Minute {
		t.Fatalf("LongestIdle = %v, %v; want 20m", got.LongestIdle, err)
	}
	if _, got, err := s.RefreshTokenSession(ctx, rt1.Hash); err != nil || got.LongestIdle != 20*time.Minute {
		t.Fatalf("RefreshTokenSession LongestIdle = %v, %v", got.LongestIdle, err)
	}
	sameCheck(t, s, "s1")
	if err := s.RecordSessionIdle(ctx, "s-none", time.Hour); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("RecordSessionIdle of no session: %v", err)
	}
	list, err := s.UserSessions(ctx, "u1", epoch)
	if err != nil || len(list) != 2 || list[0].ID != "s2" {
		t.Fatalf("UserSessions = %v, %v; want s2, s1", list, err)
	}
	if err := s.RevokeSession(ctx, "s1", epoch.Add(time.Minute), "logout"); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeSession(ctx, "s1", epoch.Add(2*time.Minute), "again"); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Session(ctx, "s1"); got.Active(epoch) || got.RevokeReason != "logout" ||
		!got.RevokedAt.Equal(epoch.Add(time.Minute)) {
		t.Fatalf("revoked session = %+v; want first revocation kept", got)
	}
	sameCheck(t, s, "s1")
	if _, err := s.SessionCheck(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("SessionCheck(missing) err = %v, want ErrNotFound", err)
	}
	if err := s.SetSessionAuth(ctx, "s1", nil, 1, epoch); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("SetSessionAuth(revoked) err = %v, want ErrNotFound", err)
	}
	if n, err := s.RevokeUserSessions(ctx, "u1", epoch.Add(time.Minute), "all"); err != nil || n != 1 {
		t.Fatalf("RevokeUserSessions = %d, %v; want 1 (s2)", n, err)
	}
	if list, _ := s.UserSessions(ctx, "u1", epoch); len(list) != 0 {
		t.Fatalf("UserSessions after revoking all = %v", list)
	}
	if hist, err := s.UserSessionHistory(ctx, "u1"); err != nil || len(hist) != 2 || hist[0].ID != "s2" || hist[1].RevokedAt.IsZero() {
		t.Fatalf("UserSessionHistory = %+v, %v; want s2 then the revoked s1", hist, err)
	}
	if hist, err := s.UserSessionHistory(ctx, "nobody"); err != nil || len(hist) != 0 {
		t.Fatalf("UserSessionHistory(nobody) = %v, %v", hist, err)
	}
	if n, err := s.PurgeSessions(ctx, epoch.Add(2*time.Minute)); err != nil || n != 2 {
		t.Fatalf("PurgeSessions = %d, %v; want 2", n, err)
	}
}

// Controls: AUTH-6
func testRefreshRotation(t *testing.T, open Opener) {
	s, ctx := open(t), context.Background()
	rt := signedIn(t, s)
	next := store.RefreshToken{Hash: sha256.Sum256([]byte("next")), SessionID: "s1", IssuedAt: epoch.Add(time.Minute)}
	if err := s.UseRefreshGrace(ctx, rt.Hash, epoch); !errors.Is(err, store.ErrUsed) {
		t.Fatalf("grace on a current token: err = %v, want ErrUsed", err)
	}
	want, _ := s.Session(ctx, "s1")
	got, sess, err := s.RefreshTokenSession(ctx, rt.Hash)
	if err != nil || got.SessionID != "s1" || !got.RotatedAt.IsZero() || got.GraceUsed || !got.IssuedAt.Equal(epoch) ||
		sess.ID != "s1" || sess.UserID != "u1" || !slices.Equal(sess.RefreshKey, want.RefreshKey) ||
		!slices.Equal(sess.AuthMethods, want.AuthMethods) || !sess.AbsoluteExpiresAt.Equal(want.AbsoluteExpiresAt) ||
		sess.DeviceID != want.DeviceID || sess.Network != want.Network || !sess.RevokedAt.IsZero() {
		t.Fatalf("RefreshTokenSession = %+v, %+v, %v; want the token and %+v", got, sess, err, want)
	}
	if _, _, err := s.RefreshTokenSession(ctx, sha256.Sum256([]byte("unknown"))); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("RefreshTokenSession(unknown) err = %v, want ErrNotFound", err)
	}
	if err := s.RotateRefreshToken(ctx, rt.Hash, store.RefreshToken{Hash: next.Hash, SessionID: "other",
		IssuedAt: next.IssuedAt}, epoch.Add(2*time.Hour)); !errors.Is(err, store.ErrUsed) {
		t.Fatalf("rotation naming another session: err = %v, want ErrUsed", err)
	}
	if err := s.RotateRefreshToken(ctx, rt.Hash, next, epoch.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.RotateRefreshToken(ctx, rt.Hash, next, epoch); !errors.Is(err, store.ErrUsed) {
		t.Fatalf("second rotation: err = %v, want ErrUsed", err)
	}
	old, err := s.RefreshToken(ctx, rt.Hash)
	if err != nil || !old.RotatedAt.Equal(next.IssuedAt) || old.SessionID != "s1" {
		t.Fatalf("rotated token = %+v, %v", old, err)
	}
	if got, _ := s.Session(ctx, "s1"); !got.IdleExpiresAt.Equal(epoch.Add(2*time.Hour)) || !got.LastSeenAt.Equal(next.IssuedAt) {
		t.Fatalf("session not touched by rotation: %+v", got)
	}
	for _, tc := range []struct {
		name  string
		since time.Time
		want  error
	}{
		{"rotated before the grace window", next.IssuedAt.Add(time.Second), store.ErrUsed},
		{"within the window", next.IssuedAt, nil},
		{"second use within the window", next.IssuedAt, store.ErrUsed},
	} {
		if err := s.UseRefreshGrace(ctx, rt.Hash, tc.since); !errors.Is(err, tc.want) || (err == nil) != (tc.want == nil) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
	}
	if _, err := s.RefreshToken(ctx, sha256.Sum256([]byte("unknown"))); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown refresh token: err = %v", err)
	}
	// A revoked session's current token does not rotate, and nothing changes.
	if err := s.RevokeSession(ctx, "s1", epoch.Add(2*time.Minute), "logout"); err != nil {
		t.Fatal(err)
	}
	after := store.RefreshToken{Hash: sha256.Sum256([]byte("after")), SessionID: "s1", IssuedAt: epoch.Add(3 * time.Minute)}
	if err := s.RotateRefreshToken(ctx, next.Hash, after, epoch.Add(3*time.Hour)); !errors.Is(err, store.ErrUsed) {
		t.Fatalf("rotation in a revoked session: err = %v, want ErrUsed", err)
	}
	if cur, err := s.RefreshToken(ctx, next.Hash); err != nil || !cur.RotatedAt.IsZero() {
		t.Fatalf("token of a revoked session after a refused rotation = %+v, %v; want still current", cur, err)
	}
	if _, err := s.RefreshToken(ctx, after.Hash); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("refused rotation stored its successor: err = %v", err)
	}
}

// 50 goroutines rotate one refresh token: exactly one wins.
//
// Controls: AUTH-6
func testRefreshRotationRace(t *testing.T, open Opener) {
	s, ctx := open(t), context.Background()
	rt := signedIn(t, s)
	errs := race(50, func(i int) error {
		next := store.RefreshToken{Hash: sha256.Sum256([]byte{byte(i)}), SessionID: "s1", IssuedAt: epoch}
		return s.Tx(ctx, func(tx store.Store) error {
			if _, err := tx.RefreshToken(ctx, rt.Hash); err != nil {
				return err
			}
			return tx.RotateRefreshToken(ctx, rt.Hash, next, epoch.Add(time.Hour))
		})
	})
	exactlyOne(t, errs, store.ErrUsed)
}

func testSigningKeys(t *testing.T, open Opener) {
	s, ctx := open(t), context.Background()
	k1 := store.SigningKey{ID: "k1", PublicKey: make([]byte, 32), PrivateKey: authSealed("dk1"),
		CreatedAt: epoch, ActiveAt: epoch.Add(time.Hour)}
	k2 := k1
	k2.ID, k2.ActiveAt = "k2", epoch
	for _, k := range []store.SigningKey{k1, k2} {
		if err := s.CreateSigningKey(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CreateSigningKey(ctx, k1); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate key: err = %v, want ErrConflict", err)
	}
	if err := s.CreateSigningKey(ctx, store.SigningKey{ID: "bad", PrivateKey: []byte("plain")}); err == nil {
		t.Fatal("a private key that is not a sealed value was stored")
	}
	keys, err := s.SigningKeys(ctx)
	if err != nil || len(keys) != 2 || keys[0].ID != "k2" || !slices.Equal(keys[1].PrivateKey, k1.PrivateKey) {
		t.Fatalf("SigningKeys = %+v, %v; want k2, k1", keys, err)
	}
	if err := s.DeleteSigningKey(ctx, "k2"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteSigningKey(ctx, "k2"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second delete: err = %v, want ErrNotFound", err)
	}
}

// Controls: AUTH-6, AUTH-5
func testProfile(t *testing.T, open Opener) {
	s, ctx := open(t), context.Background()
	signedIn(t, s)
	if err := s.CreateUser(ctx, authUser("u2", "b@example.com")); err != nil {
		t.Fatal(err)
	}
	p, err := s.Profile(ctx, "u1", "s1")
	want, _ := s.Session(ctx, "s1")
	if err != nil || p.User.ID != "u1" || p.User.Email != "a@example.com" || p.User.PasswordHash == "" ||
		p.Session.ID != "s1" || !slices.Equal(p.Session.AuthMethods, want.AuthMethods) ||
		!p.Session.IdleExpiresAt.Equal(want.IdleExpiresAt) || p.Session.UserAgent != want.UserAgent ||
		p.MFA != (store.MFAState{}) {
		t.Fatalf("Profile = %+v, %v", p, err)
	}
	if _, err := s.Profile(ctx, "u2", "s1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Profile with another user's session: err = %v, want ErrNotFound", err)
	}
	if err := s.PutTOTPSecret(ctx, store.TOTPSecret{ID: "t1", UserID: "u1", Secret: fakeSealed("k1"), CreatedAt: epoch}); err != nil {
		t.Fatal(err)
	}
	if p, _ := s.Profile(ctx, "u1", "s1"); p.MFA.TOTPConfirmed {
		t.Fatal("an unconfirmed TOTP secret counts as confirmed")
	}
	if err := s.ConfirmTOTPSecret(ctx, "u1", 1, epoch); err != nil {
		t.Fatal(err)
	}
	if err := s.ReplaceRecoveryCodes(ctx, "u1", [][32]byte{sha256.Sum256([]byte("r1")), sha256.Sum256([]byte("r2"))}, epoch); err != nil {
		t.Fatal(err)
	}
	if err := s.UseRecoveryCode(ctx, "u1", sha256.Sum256([]byte("r1")), epoch); err != nil {
		t.Fatal(err)
	}
	if _, err := s.WebAuthnHandle(ctx, "u1", []byte("handle-u1"), epoch); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateWebAuthnCredential(ctx, webauthnCred("c1", "u1", 7)); err != nil {
		t.Fatal(err)
	}
	if p, err := s.Profile(ctx, "u1", "s1"); err != nil ||
		p.MFA != (store.MFAState{TOTPConfirmed: true, WebAuthnCredentials: 1, RecoveryCodesLeft: 1}) {
		t.Fatalf("Profile MFA = %+v, %v; want confirmed TOTP, 1 credential, 1 unused code", p.MFA, err)
	}
}
