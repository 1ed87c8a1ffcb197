package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/store"
)

// Operators search users by e-mail prefix, in pages; the prefix is a range,
// not a pattern, so "%" and "_" match only themselves.
func testSearchUsers(t *testing.T, open Opener) {
	s, ctx := open(t), context.Background()
	for i, email := range []string{"ann@a.example", "anna@a.example", "bob@b.example", "a%b@c.example", "a_c@c.example"} {
		if err := s.CreateUser(ctx, authUser(fmt.Sprintf("u%d", i), email)); err != nil {
			t.Fatal(err)
		}
	}
	emails := func(us []store.User, err error) []string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, u := range us {
			out = append(out, u.Email)
		}
		return out
	}
	for _, tc := range []struct {
		name, prefix, after string
		limit               int
		want                []string
	}{
		{"prefix", "ann", "", 10, []string{"ann@a.example", "anna@a.example"}},
		{"exact", "bob@b.example", "", 10, []string{"bob@b.example"}},
		{"percent is literal", "a%", "", 10, []string{"a%b@c.example"}},
		{"underscore is literal", "a_", "", 10, []string{"a_c@c.example"}},
		{"none", "zed", "", 10, nil},
		{"all, first page", "", "", 2, []string{"a%b@c.example", "a_c@c.example"}},
		{"all, next page", "", "a_c@c.example", 2, []string{"ann@a.example", "anna@a.example"}},
		{"prefix, next page", "ann", "ann@a.example", 10, []string{"anna@a.example"}},
	} {
		if got := emails(s.SearchUsers(ctx, tc.prefix, tc.after, tc.limit)); !slices.Equal(got, tc.want) {
			t.Errorf("%s: SearchUsers(%q, %q) = %q, want %q", tc.name, tc.prefix, tc.after, got, tc.want)
		}
	}
}

// A disabled user cannot start a session; enabling lets it again.
//
// Controls: AUTH-6
func testUserDisable(t *testing.T, open Opener) {
	s, ctx := open(t), context.Background()
	if err := s.CreateUser(ctx, authUser("u1", "a@example.com")); err != nil {
		t.Fatal(err)
	}
	at := epoch.Add(time.Hour)
	u, err := s.SetUserDisabled(ctx, "u1", at)
	if err != nil || !u.DisabledAt.Equal(at) {
		t.Fatalf("SetUserDisabled = %+v, %v", u, err)
	}
	if u, err := s.SetUserDisabled(ctx, "u1", at.Add(time.Hour)); err != nil || !u.DisabledAt.Equal(at) {
		t.Fatalf("disabling again = %v, %v; want the first time kept", u.DisabledAt, err)
	}
	if got, _ := s.User(ctx, "u1"); !got.DisabledAt.Equal(at) {
		t.Fatalf("User().DisabledAt = %v, want %v", got.DisabledAt, at)
	}
	sess, rt := authSession("s1", "u1")
	if err := s.CreateSession(ctx, sess, rt); !errors.Is(err, store.ErrDisabled) {
		t.Fatalf("CreateSession for a disabled user: err = %v, want ErrDisabled", err)
	}
	if _, err := s.Session(ctx, "s1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("refused session was stored: %v", err)
	}
	if u, err := s.SetUserDisabled(ctx, "u1", time.Time{}); err != nil || !u.DisabledAt.IsZero() {
		t.Fatalf("enable = %+v, %v", u, err)
	}
	if err := s.CreateSession(ctx, sess, rt); err != nil {
		t.Fatalf("CreateSession after enable: %v", err)
	}
	if _, err := s.SetUserDisabled(ctx, "nobody", at); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("SetUserDisabled(unknown) err = %v, want ErrNotFound", err)
	}
}

// Disabling a user and revoking its sessions in one transaction, while
// sessions are being created for it, leaves no active session: each
// creation either commits first and is revoked, or sees the user disabled.
//
// Controls: AUTH-6
func testUserDisableRace(t *testing.T, open Opener) {
	s, ctx := open(t), context.Background()
	if err := s.CreateUser(ctx, authUser("u1", "a@example.com")); err != nil {
		t.Fatal(err)
	}
	const n = 24
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			sess, rt := authSession(fmt.Sprintf("s%02d", i), "u1")
			errs[i] = s.CreateSession(ctx, sess, rt)
		})
		if i == n/2 {
			wg.Go(func() {
				err := s.Tx(ctx, func(tx store.Store) error {
					if _, err := tx.SetUserDisabled(ctx, "u1", epoch); err != nil {
						return err
					}
					_, err := tx.RevokeUserSessions(ctx, "u1", epoch, "disabled")
					return err
				})
				if err != nil {
					t.Errorf("disable: %v", err)
				}
			})
		}
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil && !errors.Is(err, store.ErrDisabled) {
			t.Errorf("CreateSession %d: %v", i, err)
		}
	}
	if active, err := s.UserSessions(ctx, "u1", epoch); err != nil || len(active) != 0 {
		t.Fatalf("active sessions after disable = %d, %v; want none", len(active), err)
	}
}

// Operators list every organization in id order, in pages.
func testListOrgs(t *testing.T, open Opener) {
	s, ctx := open(t), context.Background()
	for _, id := range []string{"org-c", "org-a", "org-b"} {
		newOrg(t, s, id, "owner-"+id, nil)
	}
	ids := func(after string, limit int) []string {
		t.Helper()
		orgs, err := s.ListOrgs(ctx, after, limit)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, o := range orgs {
			out = append(out, o.ID)
		}
		return out
	}
	if got := ids("", 2); !slices.Equal(got, []string{"org-a", "org-b"}) {
		t.Fatalf("first page = %q", got)
	}
	if got := ids("org-b", 2); !slices.Equal(got, []string{"org-c"}) {
		t.Fatalf("second page = %q", got)
	}
}
