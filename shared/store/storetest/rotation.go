package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/store"
)

func testLease(t *testing.T, open Opener) {
	s, ctx := open(t), context.Background()
	a := store.Lease{Name: "rotate", Holder: "a", RunID: "m1", Expires: epoch.Add(time.Minute)}
	b := store.Lease{Name: "rotate", Holder: "b", RunID: "m2", Expires: epoch.Add(2 * time.Minute)}
	if _, err := s.AcquireLease(ctx, a, epoch); err != nil {
		t.Fatalf("acquire free lease: %v", err)
	}
	cur, err := s.AcquireLease(ctx, b, epoch.Add(30*time.Second))
	if !errors.Is(err, store.ErrConflict) || cur.Holder != "a" || cur.RunID != "m1" || !cur.Expires.Equal(a.Expires) {
		t.Fatalf("acquire held lease = %+v, %v; want holder a, run m1, ErrConflict", cur, err)
	}
	if _, err := s.AcquireLease(ctx, a, epoch.Add(time.Second)); err != nil {
		t.Fatalf("holder re-acquires its lease: %v", err)
	}
	if err := s.RenewLease(ctx, "rotate", "b", epoch.Add(time.Hour), epoch); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("renew by non-holder: err = %v, want ErrConflict", err)
	}
	if err := s.RenewLease(ctx, "rotate", "a", epoch.Add(90*time.Second), epoch.Add(59*time.Second)); err != nil {
		t.Fatalf("renew by holder: %v", err)
	}
	if err := s.ReleaseLease(ctx, "rotate", "b"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AcquireLease(ctx, b, epoch.Add(89*time.Second)); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("release by non-holder freed the lease: err = %v", err)
	}
	// A crashed holder's lease expires and the next run takes it.
	if _, err := s.AcquireLease(ctx, b, epoch.Add(90*time.Second)); err != nil {
		t.Fatalf("acquire expired lease: %v", err)
	}
	if err := s.RenewLease(ctx, "rotate", "a", epoch.Add(time.Hour), epoch.Add(91*time.Second)); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("renew after losing the lease: err = %v, want ErrConflict", err)
	}
	if err := s.ReleaseLease(ctx, "rotate", "b"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AcquireLease(ctx, a, epoch.Add(91*time.Second)); err != nil {
		t.Fatalf("acquire released lease: %v", err)
	}
}

// 20 instances race for one free lease: exactly one gets it.
func testLeaseRace(t *testing.T, open Opener) {
	s, ctx := open(t), context.Background()
	errs := race(20, func(i int) error {
		_, err := s.AcquireLease(ctx, store.Lease{Name: "rotate", Holder: fmt.Sprintf("h%d", i),
			RunID: "m", Expires: epoch.Add(time.Minute)}, epoch)
		return err
	})
	exactlyOne(t, errs, store.ErrConflict)
}

func testRotationRuns(t *testing.T, open Opener) {
	s, ctx := open(t), context.Background()
	r, err := s.BeginRotationRun(ctx, store.RotationRun{ID: "m1", StartedAt: epoch, Report: `{"a":1}`})
	if err != nil || r.ID != "m1" || !r.StartedAt.Equal(epoch) || !r.FinishedAt.IsZero() || r.Report != `{"a":1}` {
		t.Fatalf("begin = %+v, %v", r, err)
	}
	if err := s.SaveRotationRun(ctx, "m1", `{"a":2}`, time.Time{}); err != nil {
		t.Fatal(err)
	}
	// A redelivered message finds its run, not a new one.
	r, err = s.BeginRotationRun(ctx, store.RotationRun{ID: "m1", StartedAt: epoch.Add(time.Hour), Report: `{}`})
	if err != nil || !r.StartedAt.Equal(epoch) || r.Report != `{"a":2}` || !r.FinishedAt.IsZero() {
		t.Fatalf("begin again = %+v, %v; want the stored unfinished run", r, err)
	}
	if err := s.SaveRotationRun(ctx, "m1", `{"a":3}`, epoch.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveRotationRun(ctx, "m1", `{"a":4}`, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveRotationRun(ctx, "nope", `{}`, epoch); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("save unknown run: err = %v, want ErrNotFound", err)
	}
	if _, err := s.BeginRotationRun(ctx, store.RotationRun{ID: "m2", StartedAt: epoch.Add(time.Hour), Report: `{}`}); err != nil {
		t.Fatal(err)
	}
	runs, err := s.RotationRuns(ctx, 10)
	if err != nil || len(runs) != 2 || runs[0].ID != "m2" || runs[1].ID != "m1" ||
		!runs[1].FinishedAt.Equal(epoch.Add(time.Minute)) || runs[1].Report != `{"a":4}` {
		t.Fatalf("RotationRuns = %+v, %v", runs, err)
	}
}

func testRotationState(t *testing.T, open Opener) {
	s, ctx := open(t), context.Background()
	if _, _, err := s.RotationState(ctx, "x"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown state: err = %v, want ErrNotFound", err)
	}
	for i, v := range []string{"one", "two"} {
		if err := s.SetRotationState(ctx, "x", v, epoch.Add(time.Duration(i)*time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	v, at, err := s.RotationState(ctx, "x")
	if err != nil || v != "two" || !at.Equal(epoch.Add(time.Hour)) {
		t.Fatalf("state = %q at %v, %v; want two at %v", v, at, err, epoch.Add(time.Hour))
	}
	sec := store.RotationSecret{ID: "k", Sealed: []byte("ct"), KeyID: "dk1", CreatedAt: epoch}
	if err := s.CreateRotationSecret(ctx, sec); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateRotationSecret(ctx, sec); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate secret: err = %v, want ErrConflict", err)
	}
	got, err := s.RotationSecret(ctx, "k")
	if err != nil || string(got.Sealed) != "ct" || got.KeyID != "dk1" || !got.CreatedAt.Equal(epoch) {
		t.Fatalf("secret = %+v, %v", got, err)
	}
	if _, err := s.RotationSecret(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown secret: err = %v, want ErrNotFound", err)
	}
}

// headerOnly is bytes with a well-formed envelope header naming data key
// "dk1" (the store reads only the header).
func headerOnly() []byte {
	return append([]byte{1, 3, 'd', 'k', '1'}, make([]byte, 12+16)...)
}

// A suspected exposure revokes sessions created before the response began:
// one organization's members', or everyone's.
func testRevokeSessionsBefore(t *testing.T, open Opener) {
	s, ctx := open(t), context.Background()
	for _, u := range []string{"u1", "u2"} {
		if err := s.CreateUser(ctx, store.User{ID: u, Email: u + "@example.com", CreatedAt: epoch, UpdatedAt: epoch}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CreateOrg(ctx, store.Org{ID: "org-a", Name: "A", CreatedAt: epoch}, "u1"); err != nil {
		t.Fatal(err)
	}
	for i, sess := range []struct {
		id, user string
		at       time.Time
	}{{"s1", "u1", epoch}, {"s2", "u2", epoch}, {"s3", "u1", epoch.Add(time.Hour)}} {
		if err := s.CreateSession(ctx, store.Session{ID: sess.id, UserID: sess.user, CreatedAt: sess.at, LastSeenAt: sess.at,
			IdleExpiresAt: sess.at.Add(time.Hour), AbsoluteExpiresAt: sess.at.Add(time.Hour), AuthTime: sess.at, AuthLevel: 1,
			RefreshKey: headerOnly()}, store.RefreshToken{Hash: [32]byte{byte(i)}, IssuedAt: sess.at}); err != nil {
			t.Fatal(err)
		}
	}
	before, now := epoch.Add(time.Minute), epoch.Add(2*time.Hour)
	if n, err := s.RevokeSessionsBefore(ctx, "org-a", before, now, "exposure"); err != nil || n != 1 {
		t.Fatalf("revoke org-a sessions = %d, %v; want 1 (s1; s3 is newer, s2 another org's)", n, err)
	}
	if n, err := s.RevokeSessionsBefore(ctx, "", before, now, "exposure"); err != nil || n != 1 {
		t.Fatalf("revoke all sessions = %d, %v; want 1 (s2; s1 already revoked)", n, err)
	}
	for id, revoked := range map[string]bool{"s1": true, "s2": true, "s3": false} {
		sess, err := s.Session(ctx, id)
		if err != nil || sess.RevokedAt.IsZero() == revoked || (revoked && sess.RevokeReason != "exposure") {
			t.Fatalf("session %s = %+v, %v; revoked want %v", id, sess, err, revoked)
		}
	}
}
