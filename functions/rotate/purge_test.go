package rotate

import (
	"context"
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/audit"
	"github.com/gatehouse-dev/gatehouse/shared/envelope"
	"github.com/gatehouse-dev/gatehouse/shared/store"
	"github.com/gatehouse-dev/gatehouse/shared/store/postgres"
	"github.com/gatehouse-dev/gatehouse/shared/token"
)

func (f *fixture) user(t testing.TB, id string) {
	t.Helper()
	now := f.Clock.Now()
	if err := f.Store.CreateUser(context.Background(), store.User{ID: id, Email: id + "@example.com", Name: id,
		CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
}

// session creates a session of user created at the clock's time, idle
// expiring after idle.
func (f *fixture) session(t testing.TB, id, user string, idle time.Duration) {
	t.Helper()
	ctx, now := context.Background(), f.Clock.Now()
	key, err := f.app.Seal(ctx, envelope.PurposeSigningKey, envelope.Binding{Record: id, Field: "sessions.refresh_key"}, make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Store.CreateSession(ctx, store.Session{ID: id, UserID: user, CreatedAt: now, LastSeenAt: now,
		IdleExpiresAt: now.Add(idle), AbsoluteExpiresAt: now.Add(24 * time.Hour), AuthTime: now, AuthLevel: 1,
		AuthMethods: []string{"pwd"}, RefreshKey: key}, store.RefreshToken{Hash: sha256.Sum256([]byte(id)), IssuedAt: now}); err != nil {
		t.Fatal(err)
	}
}

// connection creates an active connection with sealed tokens.
func (f *fixture) connection(t testing.TB, org, id string) {
	t.Helper()
	ctx, now := context.Background(), f.Clock.Now()
	seal := func(field string) []byte {
		ct, err := f.app.Seal(ctx, envelope.PurposeCredential, envelope.Binding{Org: org, Record: id, Field: field}, []byte("token-"+id))
		if err != nil {
			t.Fatal(err)
		}
		return ct
	}
	if err := f.Store.CreateConnection(ctx, store.Connection{ID: id, OrgID: org, Platform: "google_ads", Account: id,
		Scopes: []string{"read"}, Status: store.ConnectionActive, AccessToken: seal("connections.access_token"),
		RefreshToken: seal("connections.refresh_token"), TokenType: "Bearer", CreatedBy: "u1",
		CreatedAt: now, UpdatedAt: now, StatusAt: now}); err != nil {
		t.Fatal(err)
	}
}

// Purge deletes expired sessions, tokens, nonces and rate-limit buckets,
// and destroys the ciphertext of credentials revoked past the grace period
// while the connection row and its audit trail stay; nothing live is
// touched.
//
// Controls: DATA-2, CRED-6
func TestPurge(t *testing.T) {
	for _, b := range backends {
		t.Run(b, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, b)
			ctx := context.Background()
			f.user(t, "u1")
			f.session(t, "s-old", "u1", time.Hour)
			f.connection(t, "org-1", "c-revoked")
			f.connection(t, "org-1", "c-recent")
			f.connection(t, "org-1", "c-active")
			if err := f.Store.SetConnectionStatus(ctx, "org-1", "c-revoked", store.ConnectionRevoked, "disconnected", f.Clock.Now()); err != nil {
				t.Fatal(err)
			}
			if _, err := f.Audit.Record(ctx, audit.Event{Actor: "u1", OrgID: "org-1", Action: "credential.revoke", Target: "c-revoked"}); err != nil {
				t.Fatal(err)
			}
			if err := f.Store.CreateOneTimeToken(ctx, store.OneTimeToken{Hash: sha256.Sum256([]byte("r")), Purpose: "password_reset",
				Subject: "u1", CreatedAt: f.Clock.Now(), ExpiresAt: f.Clock.Now().Add(time.Hour)}); err != nil {
				t.Fatal(err)
			}
			if err := f.Store.UseOAuthNonce(ctx, sha256.Sum256([]byte("n")), f.Clock.Now().Add(10*time.Minute)); err != nil {
				t.Fatal(err)
			}
			if _, err := f.Store.TakeRate(ctx, "login:u1", 5, time.Minute, f.Clock.Now()); err != nil {
				t.Fatal(err)
			}
			f.Clock.Advance(8 * 24 * time.Hour)
			if err := f.Store.SetConnectionStatus(ctx, "org-1", "c-recent", store.ConnectionRevoked, "disconnected", f.Clock.Now()); err != nil {
				t.Fatal(err)
			}
			f.session(t, "s-live", "u1", time.Hour)
			if err := f.Store.CreateOneTimeToken(ctx, store.OneTimeToken{Hash: sha256.Sum256([]byte("live")), Purpose: "magic_link",
				Subject: "u1", CreatedAt: f.Clock.Now(), ExpiresAt: f.Clock.Now().Add(time.Hour)}); err != nil {
				t.Fatal(err)
			}

			rep, err := f.rotator(t, testConfig()).Run(ctx, Request{ID: "p", Message: schedule(TaskPurge)})
			if err != nil {
				t.Fatal(err)
			}
			for name, want := range map[string]int64{"sessions": 1, "one_time_links": 1, "oauth_nonces": 1, "rate_limits": 1, "revoked_connections_cleared": 1} {
				if got := rep.Count(TaskPurge, name); got != want {
					t.Errorf("purged %s = %d, want %d", name, got, want)
				}
			}
			if _, err := f.Store.Session(ctx, "s-old"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("expired session: err = %v, want ErrNotFound", err)
			}
			if _, err := f.Store.Session(ctx, "s-live"); err != nil {
				t.Errorf("live session purged: %v", err)
			}
			c, err := f.Store.Connection(ctx, "org-1", "c-revoked")
			if err != nil || c.AccessToken != nil || c.RefreshToken != nil || c.Status != store.ConnectionRevoked {
				t.Fatalf("revoked connection after purge: %+v, %v; want the row without ciphertext", c, err)
			}
			for _, id := range []string{"c-recent", "c-active"} {
				if c, err := f.Store.Connection(ctx, "org-1", id); err != nil || c.AccessToken == nil {
					t.Fatalf("%s lost its ciphertext: %v", id, err)
				}
			}
			f.IntegrateAudit(t)
			evs, err := f.Store.OrgAuditEvents(ctx, "org-1", 0, 10)
			if err != nil || len(evs) != 1 || evs[0].Target != "c-revoked" {
				t.Fatalf("audit trail of the revoked credential: %v, %v", evs, err)
			}
		})
	}
}

// Retention deletes audit events older than 12 months after writing a
// checkpoint signed with a sealed key: the chain verifies from it, and a
// checkpoint changed by anyone with only database access fails to verify.
// Billing records go through the retention purgers with a 7-year cutoff.
//
// Controls: AUDIT-3, AUDIT-1, AUDIT-5
func TestRetentionSignedCheckpoint(t *testing.T) {
	for _, b := range backends {
		t.Run(b, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, b)
			ctx := context.Background()
			for i := range 5 {
				if _, err := f.Store.AppendAuditEvent(ctx, store.AuditEvent{Time: longAgo.Add(time.Duration(i) * time.Hour),
					Actor: "system", Action: "old.event", Outcome: store.OutcomeSuccess}); err != nil {
					t.Fatal(err)
				}
			}
			f.IntegrateAudit(t) // checkpoint 5: the old events alone
			if _, err := f.Audit.Record(ctx, audit.Event{Actor: "u1", Action: "recent.event"}); err != nil {
				t.Fatal(err)
			}
			f.IntegrateAudit(t)
			var billingBefore time.Time
			billing := Older("billing_records", 7*365*24*time.Hour, func(_ context.Context, before time.Time) (int64, error) {
				billingBefore = before
				return 2, nil
			})
			rep, err := f.rotator(t, testConfig(), WithRetention(billing)).Run(ctx, Request{ID: "r", Message: schedule(TaskRetention)})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Count(TaskRetention, "audit_events_deleted") != 5 || rep.Count(TaskRetention, "billing_records") != 2 {
				t.Fatalf("retention report: %+v", rep.Task(TaskRetention))
			}
			if want := f.Clock.Now().Add(-7 * 365 * 24 * time.Hour); !billingBefore.Equal(want) {
				t.Fatalf("billing cutoff %v, want %v", billingBefore, want)
			}
			vr, err := audit.Verify(ctx, f.Store)
			if err != nil || vr.Pruned != 5 || vr.Events != 1 || vr.Size != 6 {
				t.Fatalf("audit.Verify after retention: %+v, %v; want 5 leaves past retention and event 6 checked", vr, err)
			}
			// Retention keeps what proofs need (the leaves and nodes of the
			// pruned events, every signed checkpoint): the event after
			// them is proven in the newest checkpoint, checkpoint 5 (all
			// pruned now) is proven a prefix of it, and both verify
			// offline with the public key alone. A pruned event has no
			// contents left to prove.
			pub, err := f.Sequencer.Signer().PublicKey(ctx)
			if err != nil {
				t.Fatal(err)
			}
			prover := audit.NewProver(f.Store)
			recent, err := f.Store.AuditEventBySeq(ctx, 6)
			if err != nil {
				t.Fatal(err)
			}
			inc, err := prover.Inclusion(ctx, recent, 0)
			if err != nil {
				t.Fatalf("inclusion proof after retention: %v", err)
			}
			if cp, err := inc.Verify(pub); err != nil || cp.Size != 6 {
				t.Fatalf("inclusion proof of event 6 after retention: %+v, %v", cp, err)
			}
			con, err := prover.Consistency(ctx, 5, 0)
			if err != nil {
				t.Fatalf("consistency proof over the pruned range: %v", err)
			}
			if older, newer, err := con.Verify(pub); err != nil || older.Size != 5 || newer.Size != 6 {
				t.Fatalf("consistency 5 -> 6 after retention: %d -> %d, %v", older.Size, newer.Size, err)
			}
			if _, err := f.Store.AuditEventBySeq(ctx, 3); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("a pruned event's contents: err = %v, want ErrNotFound", err)
			}
			cp, err := VerifyCheckpoint(ctx, f.Store, f.app)
			if err != nil || cp.Seq != 5 {
				t.Fatalf("VerifyCheckpoint = %+v, %v; want checkpoint 5 verified", cp, err)
			}
			check := CheckpointChecker(f.Store, f.app)
			if err := check(ctx, cp.AuditCheckpoint); err != nil {
				t.Fatalf("CheckpointChecker: %v", err)
			}
			if _, err := audit.Verify(ctx, f.Store, audit.CheckCheckpoint(check)); err != nil {
				t.Fatalf("audit.Verify with the checkpoint check: %v", err)
			}
			for _, tc := range []struct{ name, q string }{
				{"signature replaced", `UPDATE audit_checkpoint SET signature = ?`},
				{"sequence moved", `UPDATE audit_checkpoint SET seq = seq + 1, signature = ?`},
			} {
				f.owner(t, tc.q, cp.Signature[:31])
				if _, err := VerifyCheckpoint(ctx, f.Store, f.app); !errors.Is(err, ErrCheckpointSignature) {
					t.Fatalf("%s: VerifyCheckpoint = %v, want ErrCheckpointSignature", tc.name, err)
				}
				if err := check(ctx, cp.AuditCheckpoint); !errors.Is(err, ErrCheckpointSignature) {
					t.Fatalf("%s: CheckpointChecker = %v, want ErrCheckpointSignature", tc.name, err)
				}
				var broken *audit.BrokenLinkError
				if _, err := audit.Verify(ctx, f.Store, audit.CheckCheckpoint(check)); !errors.As(err, &broken) {
					t.Fatalf("%s: audit.Verify with the checkpoint check = %v, want a broken link", tc.name, err)
				}
			}
		})
	}
}

// A suspected exposure revokes the sessions of one organization's members,
// or every session.
//
// Controls: CRED-8, AUTH-6
func TestExposureRevokesSessions(t *testing.T) {
	for _, tc := range []struct {
		name    string
		org     string
		revoked []string
		kept    []string
	}{
		{"one organization", "org-a", []string{"s1"}, []string{"s2"}},
		{"everyone", "", []string{"s1", "s2"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, "postgres")
			ctx := context.Background()
			f.user(t, "u1")
			f.user(t, "u2")
			for org, owner := range map[string]string{"org-a": "u1", "org-b": "u2"} {
				if err := f.Store.CreateOrg(ctx, store.Org{ID: org, Name: org, CreatedAt: f.Clock.Now()}, owner); err != nil {
					t.Fatal(err)
				}
			}
			f.session(t, "s1", "u1", time.Hour)
			f.session(t, "s2", "u2", time.Hour)
			f.Clock.Advance(time.Second)
			m := exposure(TaskSessions)
			m.OrgID = tc.org
			rep, err := f.rotator(t, testConfig()).Run(ctx, Request{ID: "x", Message: m})
			if err != nil {
				t.Fatal(err)
			}
			if got := rep.Count(TaskSessions, "revoked"); got != int64(len(tc.revoked)) {
				t.Fatalf("revoked %d sessions, want %d", got, len(tc.revoked))
			}
			for _, id := range tc.revoked {
				if s, _ := f.Store.Session(ctx, id); s.RevokedAt.IsZero() {
					t.Errorf("session %s not revoked", id)
				}
			}
			for _, id := range tc.kept {
				if s, _ := f.Store.Session(ctx, id); !s.RevokedAt.IsZero() {
					t.Errorf("session %s of another organization revoked", id)
				}
			}
		})
	}
}

// A signing-key rotation publishes the new key before it signs; tokens the
// old key signed verify until they expire, then fail; the old public key is
// dropped once every token it signed has expired.
//
// Controls: CRED-8
func TestSigningKeyRotation(t *testing.T) {
	f := newFixture(t, "sqlite")
	ctx := context.Background()
	signer, err := token.NewSigner(ctx, f.Store, f.app, token.Options{Issuer: "https://gatehouse.example.com", Now: f.Clock.Now,
		Reload: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	f.Clock.Advance(25 * time.Hour)
	old, oldClaims, err := signer.Sign(ctx, token.Claims{Subject: "u1", SessionID: "s1"})
	if err != nil {
		t.Fatal(err)
	}
	r := f.rotator(t, testConfig())
	rep, err := r.Run(ctx, Request{ID: "k1", Message: schedule(TaskSigningKeys)})
	if err != nil || rep.Count(TaskSigningKeys, "rotated") != 1 {
		t.Fatalf("rotation: %+v, %v", rep.Task(TaskSigningKeys), err)
	}
	jwks := func() []string {
		set, err := signer.JWKS(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var kids []string
		for _, k := range set.Keys {
			kids = append(kids, k.KeyID)
		}
		return kids
	}
	f.Clock.Advance(2 * time.Second) // past the signer's reload interval
	if kids := jwks(); len(kids) != 2 {
		t.Fatalf("JWKS right after rotation = %v, want the old and the new key", kids)
	}
	if _, c, _ := signer.Sign(ctx, token.Claims{Subject: "u1", SessionID: "s1"}); c.KeyID != oldClaims.KeyID {
		t.Fatal("the new key signs before its publish delay")
	}
	f.Clock.Advance(5 * time.Minute)
	if _, err := signer.Verify(ctx, old); err != nil {
		t.Fatalf("token signed before the rotation, not yet expired: %v", err)
	}
	f.Clock.Advance(6 * time.Minute)
	if _, err := signer.Verify(ctx, old); !errors.Is(err, token.ErrInvalid) {
		t.Fatalf("expired token: err = %v, want ErrInvalid", err)
	}
	f.Clock.Advance(15 * time.Minute) // the new key signs; every old token expired
	fresh, freshClaims, err := signer.Sign(ctx, token.Claims{Subject: "u1", SessionID: "s1"})
	if err != nil || freshClaims.KeyID == oldClaims.KeyID {
		t.Fatalf("after the publish delay: kid %s, %v; want the new key", freshClaims.KeyID, err)
	}
	rep, err = r.Run(ctx, Request{ID: "k2", Message: schedule(TaskSigningKeys)})
	if err != nil || rep.Count(TaskSigningKeys, "rotated") != 0 || rep.Count(TaskSigningKeys, "public_keys_purged") != 1 {
		t.Fatalf("second run: %+v, %v; want no rotation and the old key purged", rep.Task(TaskSigningKeys), err)
	}
	f.Clock.Advance(2 * time.Second)
	if kids := jwks(); len(kids) != 1 || kids[0] != freshClaims.KeyID {
		t.Fatalf("JWKS after purge = %v, want only %s", kids, freshClaims.KeyID)
	}
	if _, err := signer.Verify(ctx, fresh); err != nil {
		t.Fatal(err)
	}
}

// On PostgreSQL the application role can neither plant or move a
// checkpoint nor delete audit events or retention records itself, even
// setting the retention setting: only the retention trigger can.
//
// Controls: AUDIT-1, AUDIT-3
func TestCheckpointNotWritableByApplication(t *testing.T) {
	f := newFixture(t, "postgres")
	ctx := context.Background()
	conn := f.Store.(*postgres.DB).Conn()
	for i := range 2 {
		if _, err := f.Store.AppendAuditEvent(ctx, store.AuditEvent{Time: longAgo.Add(time.Duration(i) * time.Hour),
			Actor: "system", Action: "old.event", Outcome: store.OutcomeSuccess}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := conn.Exec(ctx, `INSERT INTO audit_checkpoint (id, seq, hash, at) VALUES (1, 1, $1, $2)`, make([]byte, 32), longAgo); err == nil {
		t.Fatal("application role planted a checkpoint")
	}
	f.IntegrateAudit(t)
	if n, err := f.rotator(t, testConfig()).applyRetention(ctx, longAgo.AddDate(1, 0, 0), 1, mustEvent(t, f, 1).LeafHash); err != nil || n != 1 {
		t.Fatalf("retention through the trigger: %d, %v", n, err)
	}
	for _, q := range []string{
		`DELETE FROM audit_events`,
		`UPDATE audit_checkpoint SET seq = 0`,
		`SET gatehouse.audit_retention = 'on'; DELETE FROM audit_events`,
		`DELETE FROM audit_retention_runs`,
	} {
		if _, err := conn.Exec(ctx, q); err == nil {
			t.Fatalf("application role ran %q", q)
		}
	}
	if evs, _ := f.Store.AuditEvents(ctx, 0, 10); len(evs) != 1 {
		t.Fatalf("%d events left, want 1", len(evs))
	}
}

func mustEvent(t *testing.T, f *fixture, seq int64) store.AuditEvent {
	t.Helper()
	evs, err := f.Store.AuditEvents(context.Background(), seq-1, 1)
	if err != nil || len(evs) != 1 {
		t.Fatalf("event %d: %v", seq, err)
	}
	return evs[0]
}
