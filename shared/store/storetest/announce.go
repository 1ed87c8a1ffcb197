package storetest

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/store"
)

// SessionChangers are the store methods that change what an access-token
// check reads of a session, or end it: each must announce its change
// ([store.SessionFeed]) in its own transaction, so every process's session
// cache drops the session at once. A method added to the store that
// revokes sessions, ends them or disables or deletes a user belongs here
// (sqlstore's TestSessionWritesAnnounce fails on such a statement whose
// method does not announce).
var SessionChangers = []SessionChanger{
	{"RevokeSession", func(ctx context.Context, s store.Store, _, id string) error {
		return s.RevokeSession(ctx, id, epoch, "logout")
	}, bySession},
	{"RevokeUserSessions", func(ctx context.Context, s store.Store, u, _ string) error {
		_, err := s.RevokeUserSessions(ctx, u, epoch, "logout_all")
		return err
	}, byUser},
	// In a transaction, as a factor removal or an identity unlink does.
	{"RevokeUserSessions", func(ctx context.Context, s store.Store, u, _ string) error {
		return s.Tx(ctx, func(tx store.Store) error {
			_, err := tx.RevokeUserSessions(ctx, u, epoch, "factor_removed")
			return err
		})
	}, byUser},
	{"RevokeSSOSessions", func(ctx context.Context, s store.Store, u, _ string) error {
		_, err := s.RevokeSSOSessions(ctx, u, "o1", epoch, "scim_deprovisioned")
		return err
	}, byUser},
	// An organization's deletion: the user's session from its SSO ends.
	{"RevokeOrgSSOSessions", func(ctx context.Context, s store.Store, u, id string) error {
		sess, rt := authSession(id+"-sso", u)
		sess.SSOOrgID = "org-" + u
		rt.Hash[31] ^= 0xff
		if err := s.CreateSession(ctx, sess, rt); err != nil {
			return err
		}
		_, err := s.RevokeOrgSSOSessions(ctx, "org-"+u, epoch, "org_deleted")
		return err
	}, byUser},
	{"SetSessionAuth", func(ctx context.Context, s store.Store, _, id string) error {
		return s.SetSessionAuth(ctx, id, []string{"pwd", "otp"}, 2, epoch)
	}, bySession},
	{"RecordSessionIdle", func(ctx context.Context, s store.Store, _, id string) error {
		return s.RecordSessionIdle(ctx, id, time.Hour)
	}, bySession},
	{"SetUserDisabled", func(ctx context.Context, s store.Store, u, _ string) error {
		_, err := s.SetUserDisabled(ctx, u, epoch)
		return err
	}, byUser},
	{"DeleteUser", func(ctx context.Context, s store.Store, u, _ string) error {
		return s.DeleteUser(ctx, u)
	}, byUser},
	{"RevokeSessionsBefore", func(ctx context.Context, s store.Store, _, _ string) error {
		_, err := s.RevokeSessionsBefore(ctx, "", epoch.Add(time.Hour), epoch, "exposure")
		return err
	}, func(string, string) store.SessionChange { return store.SessionChange{} }},
}

// SessionChanger calls one store method on a user's session and names
// the change it must announce.
type SessionChanger struct {
	Name string
	Call func(ctx context.Context, s store.Store, userID, sessionID string) error
	Want func(userID, sessionID string) store.SessionChange
}

func bySession(_, id string) store.SessionChange { return store.SessionChange{SessionID: id} }
func byUser(u, _ string) store.SessionChange     { return store.SessionChange{UserID: u} }

// recorder is a [store.SessionObserver] that keeps what it hears.
type recorder struct {
	mu      sync.Mutex
	changes []store.SessionChange
	live    bool
}

func (r *recorder) SessionsChanged(c store.SessionChange) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.changes = append(r.changes, c)
}

func (r *recorder) ChannelLive(time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.live = true
}

func (r *recorder) ChannelDown() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.live = false
}

// await waits up to 5 s for the recorder to hold want and returns what it
// heard until then, clearing it.
func (r *recorder) await(want store.SessionChange) ([]store.SessionChange, bool) {
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(2 * time.Millisecond) {
		r.mu.Lock()
		got := slices.Clone(r.changes)
		found := slices.Contains(got, want)
		if found || time.Now().After(deadline) {
			r.changes = nil
			r.mu.Unlock()
			return got, found
		}
		r.mu.Unlock()
	}
}

func (r *recorder) isLive() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.live
}

// Controls: AUTH-6
func testSessionAnnouncements(t *testing.T, open Opener) {
	s := open(t)
	Announcements(t, s, s)
}

// Announcements checks, for every method of [SessionChangers] called on
// writer, that watcher's feed reports the change (writer and watcher are
// one store, or two stores of one database: two processes), and that a
// revocation rolled back is never reported.
func Announcements(t *testing.T, writer, watcher store.Store) {
	t.Helper()
	ctx := context.Background()
	feed, ok := watcher.(store.SessionFeed)
	if !ok {
		t.Fatalf("%T does not announce session changes (store.SessionFeed)", watcher)
	}
	rec := &recorder{}
	stop := feed.WatchSessions(rec)
	defer stop()
	for deadline := time.Now().Add(5 * time.Second); !rec.isLive(); time.Sleep(2 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("session feed never went live")
		}
	}
	setup := func(name string) (string, string) {
		u, sid := "ann-u-"+name, "ann-s-"+name
		if err := writer.CreateUser(ctx, authUser(u, u+"@example.com")); err != nil {
			t.Fatal(err)
		}
		sess, rt := authSession(sid, u)
		rt.Hash[0] ^= byte(len(name))
		rt.Hash[1] ^= name[0]
		if err := writer.CreateSession(ctx, sess, rt); err != nil {
			t.Fatal(err)
		}
		return u, sid
	}
	for i, m := range SessionChangers {
		u, sid := setup(string(rune('a' + i)))
		if err := m.Call(ctx, writer, u, sid); err != nil {
			t.Fatalf("%s: %v", m.Name, err)
		}
		want := m.Want(u, sid)
		if got, ok := rec.await(want); !ok {
			t.Errorf("%s was not announced: heard %v, want %+v", m.Name, got, want)
		}
	}
	// A rolled-back revocation is never announced: the marker revoked
	// after it arrives alone.
	u, sid := setup("rollback")
	boom := errors.New("boom")
	err := writer.Tx(ctx, func(tx store.Store) error {
		if err := tx.RevokeSession(ctx, sid, epoch, "logout"); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("rolled-back transaction: %v", err)
	}
	_, marker := setup("marker")
	if err := writer.RevokeSession(ctx, marker, epoch, "logout"); err != nil {
		t.Fatal(err)
	}
	got, ok := rec.await(store.SessionChange{SessionID: marker})
	if !ok || slices.Contains(got, store.SessionChange{SessionID: sid}) || slices.Contains(got, store.SessionChange{UserID: u}) {
		t.Fatalf("after a rolled-back revocation and a committed one heard %v, want only %s", got, marker)
	}
}
