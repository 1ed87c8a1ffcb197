package storetest

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/store"
)

// A session records the organization whose single sign-on started it,
// through every read and a refresh; revoking one organization's SSO
// sessions of a user ends those (and the unattributed ones) only: the
// user's password session, another organization's SSO session and other
// users' sessions of the same organization stay.
//
// Controls: AUTHZ-5, AUTH-13
func testSSOSessions(t *testing.T, open Opener) {
	s, ctx := open(t), context.Background()
	for _, u := range []store.User{authUser("u1", "a@example.com"), authUser("u2", "b@example.com")} {
		if err := s.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct{ id, user, org string }{
		{"pwd", "u1", ""}, {"ssoA", "u1", "orgA"}, {"ssoA2", "u1", "orgA"}, {"ssoB", "u1", "orgB"},
		{"legacy", "u1", store.SSOOrgUnknown}, {"otherA", "u2", "orgA"},
	} {
		sess, rt := authSession(c.id, c.user)
		sess.SSOOrgID = c.org
		if err := s.CreateSession(ctx, sess, rt); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := s.Session(ctx, "ssoA"); err != nil || got.SSOOrgID != "orgA" {
		t.Fatalf("Session(ssoA).SSOOrgID = %q, %v", got.SSOOrgID, err)
	}
	// A refresh keeps the organization.
	next := store.RefreshToken{Hash: sha256.Sum256([]byte("ssoA-next")), SessionID: "ssoA", IssuedAt: epoch.Add(time.Minute)}
	if err := s.RotateRefreshToken(ctx, sha256.Sum256([]byte("rt-ssoA")), next, epoch.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, got, err := s.RefreshTokenSession(ctx, next.Hash); err != nil || got.SSOOrgID != "orgA" {
		t.Fatalf("RefreshTokenSession after rotation: SSOOrgID %q, %v", got.SSOOrgID, err)
	}
	if err := s.SetSessionAuth(ctx, "ssoA", []string{"pwd"}, 1, epoch.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if list, err := s.UserSessions(ctx, "u1", epoch); err != nil || len(list) != 5 {
		t.Fatalf("UserSessions = %v, %v", list, err)
	}
	n, err := s.RevokeSSOSessions(ctx, "u1", "orgA", epoch.Add(2*time.Minute), "scim_deprovisioned")
	if err != nil || n != 3 {
		t.Fatalf("RevokeSSOSessions = %d, %v; want 3 (ssoA after a refresh and a step-up, ssoA2, legacy)", n, err)
	}
	for id, ended := range map[string]bool{"pwd": false, "ssoA": true, "ssoA2": true, "ssoB": false, "legacy": true, "otherA": false} {
		got, err := s.Session(ctx, id)
		if err != nil || got.RevokedAt.IsZero() == ended || ended && got.RevokeReason != "scim_deprovisioned" {
			t.Errorf("session %s: revoked at %v (%q), %v; want ended %v", id, got.RevokedAt, got.RevokeReason, err, ended)
		}
	}
	if n, err := s.RevokeSSOSessions(ctx, "u1", "orgA", epoch.Add(3*time.Minute), "again"); err != nil || n != 0 {
		t.Fatalf("RevokeSSOSessions again = %d, %v; want 0", n, err)
	}
}

// Deleting an organization ends every session its single sign-on started,
// whoever holds it (a member or someone who has since left), and the
// unattributed SSO sessions of its members only: password sessions,
// another organization's SSO sessions and a non-member's unattributed
// session stay.
//
// Controls: AUTHZ-5, AUTH-13
func testOrgSSOSessions(t *testing.T, open Opener) {
	s, ctx := open(t), context.Background()
	for _, u := range []store.User{authUser("u1", "a@example.com"), authUser("u2", "b@example.com"),
		authUser("u3", "c@example.com")} {
		if err := s.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CreateOrg(ctx, store.Org{ID: "orgA", Name: "A", CreatedAt: epoch}, "u1"); err != nil {
		t.Fatal(err)
	}
	if err := s.AddMember(ctx, store.Member{OrgID: "orgA", UserID: "u3", Role: "viewer", CreatedAt: epoch, UpdatedAt: epoch}); err != nil {
		t.Fatal(err)
	}
	ended := map[string]bool{}
	for _, c := range []struct {
		id, user, org string
		ends          bool
	}{
		{"u1-pwd", "u1", "", false}, {"u1-ssoA", "u1", "orgA", true}, {"u1-ssoA2", "u1", "orgA", true},
		{"u1-legacy", "u1", store.SSOOrgUnknown, true}, {"u1-ssoB", "u1", "orgB", false},
		{"u2-ssoA", "u2", "orgA", true}, {"u2-legacy", "u2", store.SSOOrgUnknown, false},
		{"u3-legacy", "u3", store.SSOOrgUnknown, true}, {"u3-ssoB", "u3", "orgB", false},
	} {
		sess, rt := authSession(c.id, c.user)
		sess.SSOOrgID = c.org
		if err := s.CreateSession(ctx, sess, rt); err != nil {
			t.Fatal(err)
		}
		ended[c.id] = c.ends
	}
	users, err := s.RevokeOrgSSOSessions(ctx, "orgA", epoch.Add(time.Minute), "org_deleted")
	if err != nil || fmt.Sprint(users) != "[u1 u2 u3]" {
		t.Fatalf("RevokeOrgSSOSessions = %v, %v; want [u1 u2 u3]", users, err)
	}
	for id, want := range ended {
		got, err := s.Session(ctx, id)
		if err != nil || got.RevokedAt.IsZero() == want || want && got.RevokeReason != "org_deleted" {
			t.Errorf("session %s: revoked at %v (%q), %v; want ended %v", id, got.RevokedAt, got.RevokeReason, err, want)
		}
	}
	if users, err := s.RevokeOrgSSOSessions(ctx, "orgA", epoch.Add(2*time.Minute), "again"); err != nil || len(users) != 0 {
		t.Fatalf("RevokeOrgSSOSessions again = %v, %v; want none", users, err)
	}
}

// A refresh racing the deprovisioning cannot keep an organization's SSO
// session alive: in every round 20 refreshes of the session's token (one
// wins) run at once with RevokeSSOSessions, and afterwards the session is
// revoked and no token of it rotates, while the user's password session,
// refreshed at the same time, stays active.
//
// Controls: AUTHZ-5, AUTH-6
func testSSOSessionRevokeRace(t *testing.T, open Opener) {
	s, ctx := open(t), context.Background()
	if err := s.CreateUser(ctx, authUser("u1", "a@example.com")); err != nil {
		t.Fatal(err)
	}
	for round := range 5 {
		sso, pwd := fmt.Sprintf("sso-%d", round), fmt.Sprintf("pwd-%d", round)
		for id, org := range map[string]string{sso: "orgA", pwd: ""} {
			sess, rt := authSession(id, "u1")
			sess.SSOOrgID = org
			if err := s.CreateSession(ctx, sess, rt); err != nil {
				t.Fatal(err)
			}
		}
		next := func(id string, i int) store.RefreshToken {
			return store.RefreshToken{Hash: sha256.Sum256(fmt.Appendf(nil, "%s-next-%d", id, i)), SessionID: id, IssuedAt: epoch.Add(time.Minute)}
		}
		errs := race(22, func(i int) error {
			switch {
			case i == 20:
				_, err := s.RevokeSSOSessions(ctx, "u1", "orgA", epoch.Add(time.Minute), "scim_deprovisioned")
				return err
			case i == 21:
				return s.RotateRefreshToken(ctx, sha256.Sum256([]byte("rt-"+pwd)), next(pwd, 0), epoch.Add(time.Hour))
			}
			err := s.RotateRefreshToken(ctx, sha256.Sum256([]byte("rt-"+sso)), next(sso, i), epoch.Add(time.Hour))
			if errors.Is(err, store.ErrUsed) {
				return nil
			}
			return err
		})
		for i, err := range errs {
			if err != nil {
				t.Fatalf("round %d racer %d: %v", round, i, err)
			}
		}
		if got, err := s.Session(ctx, sso); err != nil || got.RevokedAt.IsZero() {
			t.Fatalf("round %d: SSO session after the race: %+v, %v", round, got, err)
		}
		for i := range 20 {
			if err := s.RotateRefreshToken(ctx, next(sso, i).Hash, next(sso, 100+i), epoch.Add(time.Hour)); !errors.Is(err, store.ErrUsed) {
				t.Fatalf("round %d: a successor token of the revoked session rotates: %v", round, err)
			}
		}
		if got, err := s.Session(ctx, pwd); err != nil || !got.RevokedAt.IsZero() {
			t.Fatalf("round %d: password session after the race: %+v, %v", round, got, err)
		}
	}
}
