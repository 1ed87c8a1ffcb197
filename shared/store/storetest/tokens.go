package storetest

import (
	"context"
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/store"
)

func testOneTimeTokens(t *testing.T, open Opener) {
	s, ctx := open(t), context.Background()
	tok := store.OneTimeToken{Hash: sha256.Sum256([]byte("secret")), Purpose: "password_reset", Subject: "user-1",
		CreatedAt: epoch, ExpiresAt: epoch.Add(time.Hour)}
	if err := s.CreateOneTimeToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateOneTimeToken(ctx, tok); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate token: err = %v, want ErrConflict", err)
	}
	expired := tok
	expired.Hash = sha256.Sum256([]byte("old"))
	expired.ExpiresAt = epoch.Add(-time.Second)
	if err := s.CreateOneTimeToken(ctx, expired); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		purpose string
		hash    [32]byte
		want    error
	}{
		{"wrong purpose", "magic_link", tok.Hash, store.ErrNotFound},
		{"unknown", "password_reset", sha256.Sum256([]byte("nope")), store.ErrNotFound},
		{"expired", "password_reset", expired.Hash, store.ErrExpired},
		{"valid", "password_reset", tok.Hash, nil},
		{"reused", "password_reset", tok.Hash, store.ErrUsed},
	} {
		got, err := s.ConsumeOneTimeToken(ctx, tc.purpose, tc.hash, epoch)
		if !errors.Is(err, tc.want) || (err == nil) != (tc.want == nil) {
			t.Fatalf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
		if err == nil && (got.Subject != "user-1" || got.Data != "{}" || !got.UsedAt.Equal(epoch)) {
			t.Fatalf("%s: consumed token = %+v", tc.name, got)
		}
	}
	n, err := s.PurgeOneTimeTokens(ctx, epoch)
	if err != nil || n != 1 {
		t.Fatalf("PurgeOneTimeTokens = %d, %v; want 1 (the expired one)", n, err)
	}
}

// 50 goroutines race to consume one token: exactly one wins.
func testOneTimeTokenRace(t *testing.T, open Opener) {
	s, ctx := open(t), context.Background()
	hash := sha256.Sum256([]byte("race"))
	if err := s.CreateOneTimeToken(ctx, store.OneTimeToken{Hash: hash, Purpose: "magic_link", Subject: "u",
		CreatedAt: epoch, ExpiresAt: epoch.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	errs := race(50, func(int) error {
		_, err := s.ConsumeOneTimeToken(ctx, "magic_link", hash, epoch)
		return err
	})
	exactlyOne(t, errs, store.ErrUsed)
}

func testTxRollback(t *testing.T, open Opener) {
	s, ctx := open(t), context.Background()
	boom := errors.New("boom")
	hash := sha256.Sum256([]byte("tx"))
	err := s.Tx(ctx, func(tx store.Store) error {
		if err := tx.CreateOneTimeToken(ctx, store.OneTimeToken{Hash: hash, Purpose: "p", Subject: "u",
			CreatedAt: epoch, ExpiresAt: epoch.Add(time.Hour)}); err != nil {
			return err
		}
		if _, err := tx.AppendAuditEvent(ctx, store.AuditEvent{Time: epoch, Actor: "a", Action: "x", Outcome: store.OutcomeSuccess}); err != nil {
			return err
		}
		// A nested Tx joins the outer one.
		return tx.Tx(ctx, func(store.Store) error { return boom })
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Tx returned %v, want boom", err)
	}
	if _, err := s.ConsumeOneTimeToken(ctx, "p", hash, epoch); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("token written in a rolled-back Tx: err = %v", err)
	}
	if evs, _ := s.AuditEvents(ctx, 0, 10); len(evs) != 0 {
		t.Fatalf("audit event survived rollback")
	}
	e, err := s.AppendAuditEvent(ctx, store.AuditEvent{Time: epoch, Actor: "a", Action: "y", Outcome: store.OutcomeSuccess})
	if err != nil {
		t.Fatalf("append after rollback: %v", err)
	}
	if size := integrate(t, s, 1); size != 1 {
		t.Fatalf("after rollback the tree holds %d events, want only the one committed", size)
	}
	if leaves, _ := s.AuditLeaves(ctx, 0, 10); len(leaves) != 1 || leaves[0].EventID != e.ID {
		t.Fatalf("leaves after rollback = %v, want event %d alone", leaves, e.ID)
	}
}

// Scoped tokens are listed while pending and revoked only within their
// scope.
//
// Controls: AUTHZ-3
func testScopedTokens(t *testing.T, open Opener) {
	s, ctx := open(t), context.Background()
	mk := func(secret, scope string, created, expires time.Duration) store.OneTimeToken {
		tok := store.OneTimeToken{Hash: sha256.Sum256([]byte(secret)), Purpose: "org_invitation", Subject: secret + "@example.com",
			Scope: scope, Data: `{"role":"viewer"}`, CreatedAt: epoch.Add(created), ExpiresAt: epoch.Add(expires)}
		if err := s.CreateOneTimeToken(ctx, tok); err != nil {
			t.Fatal(err)
		}
		return tok
	}
	second := mk("b", "org-a", 2*time.Second, time.Hour)
	first := mk("a", "org-a", time.Second, time.Hour)
	mk("expired", "org-a", 0, -time.Second)
	used := mk("used", "org-a", 0, time.Hour)
	other := mk("c", "org-b", 0, time.Hour)
	mk("unscoped", "", 0, time.Hour)
	if _, err := s.ConsumeOneTimeToken(ctx, "org_invitation", used.Hash, epoch); err != nil {
		t.Fatal(err)
	}
	got, err := s.PendingOneTimeTokens(ctx, "org_invitation", "org-a", epoch)
	if err != nil || len(got) != 2 || got[0].Hash != first.Hash || got[1].Hash != second.Hash ||
		got[0].Scope != "org-a" || got[0].Subject != "a@example.com" || got[0].Data != `{"role":"viewer"}` {
		t.Fatalf("PendingOneTimeTokens(org-a) = %+v, %v", got, err)
	}
	if _, err := s.PendingOneTimeTokens(ctx, "org_invitation", "", epoch); err == nil {
		t.Fatal("listing without a scope succeeded")
	}
	for _, tc := range []struct {
		name  string
		scope string
		hash  [32]byte
	}{
		{"another scope's", "org-a", other.Hash},
		{"used", "org-a", used.Hash},
		{"unscoped", "", sha256.Sum256([]byte("unscoped"))},
	} {
		if err := s.RevokeOneTimeToken(ctx, "org_invitation", tc.scope, tc.hash); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("revoking %s token: %v, want ErrNotFound", tc.name, err)
		}
	}
	if err := s.RevokeOneTimeToken(ctx, "org_invitation", "org-a", first.Hash); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ConsumeOneTimeToken(ctx, "org_invitation", first.Hash, epoch); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("consuming a revoked token: %v, want ErrNotFound", err)
	}
	if got, _ := s.PendingOneTimeTokens(ctx, "org_invitation", "org-b", epoch); len(got) != 1 {
		t.Fatalf("org-b's tokens: %+v", got)
	}
}

// A superseding token deletes the unused tokens of its purpose and
// subject, and only those; OneTimeToken reads a token without spending it.
//
// Controls: AUTH-15, AUTH-9
func testSupersedeOneTimeTokens(t *testing.T, open Opener) {
	s, ctx := open(t), context.Background()
	mk := func(secret, purpose, subject string) store.OneTimeToken {
		return store.OneTimeToken{Hash: sha256.Sum256([]byte(secret)), Purpose: purpose, Subject: subject,
			CreatedAt: epoch, ExpiresAt: epoch.Add(time.Hour)}
	}
	older, used := mk("older", "magic_link", "u1"), mk("used", "magic_link", "u1")
	otherUser, otherPurpose := mk("other-user", "magic_link", "u2"), mk("other-purpose", "password_reset", "u1")
	for _, tok := range []store.OneTimeToken{older, used, otherUser, otherPurpose} {
		if err := s.CreateOneTimeToken(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.ConsumeOneTimeToken(ctx, "magic_link", used.Hash, epoch); err != nil {
		t.Fatal(err)
	}
	peeked, err := s.OneTimeToken(ctx, "magic_link", older.Hash, epoch)
	if err != nil || peeked.Subject != "u1" || !peeked.UsedAt.IsZero() {
		t.Fatalf("OneTimeToken = %+v, %v", peeked, err)
	}
	newer := mk("newer", "magic_link", "u1")
	if err := s.SupersedeOneTimeTokens(ctx, newer); err != nil {
		t.Fatal(err)
	}
	// A conflict rolls the deletion back: the newer token stays.
	clash := otherUser
	clash.Subject = "u1"
	if err := s.SupersedeOneTimeTokens(ctx, clash); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("superseding with an existing hash: %v, want ErrConflict", err)
	}
	for _, tc := range []struct {
		name string
		tok  store.OneTimeToken
		want error
	}{
		{"older, superseded", older, store.ErrNotFound},
		{"used before, kept as used", used, store.ErrUsed},
		{"another subject's", otherUser, nil},
		{"another purpose's", otherPurpose, nil},
		{"newer", newer, nil},
	} {
		_, err := s.OneTimeToken(ctx, tc.tok.Purpose, tc.tok.Hash, epoch)
		if !errors.Is(err, tc.want) || (err == nil) != (tc.want == nil) {
			t.Fatalf("%s: OneTimeToken err = %v, want %v", tc.name, err, tc.want)
		}
	}
	if _, err := s.OneTimeToken(ctx, "magic_link", newer.Hash, epoch.Add(time.Hour)); !errors.Is(err, store.ErrExpired) {
		t.Fatalf("expired: %v", err)
	}
	if _, err := s.OneTimeToken(ctx, "password_reset", newer.Hash, epoch); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("wrong purpose: %v", err)
	}
	// Peeking spent nothing.
	if _, err := s.ConsumeOneTimeToken(ctx, "magic_link", newer.Hash, epoch); err != nil {
		t.Fatalf("consume after peeking: %v", err)
	}
}
