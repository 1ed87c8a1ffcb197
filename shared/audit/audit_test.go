package audit_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/mod/sumdb/note"

	"github.com/gatehouse-dev/gatehouse/shared/audit"
	"github.com/gatehouse-dev/gatehouse/shared/auditproof"
	"github.com/gatehouse-dev/gatehouse/shared/bootstrap/bootstraptest"
	"github.com/gatehouse-dev/gatehouse/shared/store"
	"github.com/gatehouse-dev/gatehouse/shared/store/postgres/pgtest"
	"github.com/gatehouse-dev/gatehouse/shared/store/sqlite"
)

var epoch = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

// tamperer does, with privileges the application does not have, what an
// attacker with database access might: run one statement on the audit
// tables with their append-only guards switched off.
type tamperer func(t *testing.T, sql string, args ...any)

type backend struct {
	name string
	open func(t *testing.T) (store.Store, tamperer)
}

var backends = []backend{
	{"sqlite", func(t *testing.T) (store.Store, tamperer) {
		db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "a.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(db.Close)
		return db, func(t *testing.T, q string, args ...any) {
			q = strings.ReplaceAll(q, "$", "?")
			for _, tr := range []string{"audit_events_no_update", "audit_leaves_no_update", "audit_leaves_no_delete",
				"audit_tree_heads_no_update", "audit_tree_heads_no_delete", "audit_nodes_no_update"} {
				if _, err := db.SQL().Exec(`DROP TRIGGER IF EXISTS ` + tr); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := db.SQL().Exec(`INSERT INTO audit_retention_gate (open) VALUES (1)`); err != nil {
				t.Fatal(err)
			}
			if _, err := db.SQL().Exec(q, args...); err != nil {
				t.Fatalf("tamper: %v", err)
			}
		}
	}},
	{"postgres", func(t *testing.T) (store.Store, tamperer) {
		db := pgtest.New(t)
		return db.Store, func(t *testing.T, q string, args ...any) {
			ctx := context.Background()
			err := pgx.BeginFunc(ctx, db.Owner, func(tx pgx.Tx) error {
				if _, err := tx.Exec(ctx, `SET LOCAL session_replication_role = replica`); err != nil {
					return err
				}
				_, err := tx.Exec(ctx, q, args...)
				return err
			})
			if err != nil {
				t.Fatalf("tamper: %v", err)
			}
		}
	}},
}

func fill(t *testing.T, l *audit.Log, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		if _, err := l.Record(context.Background(), audit.Event{Actor: "user-1", OrgID: "org-1", Action: "test.step",
			Target: fmt.Sprint(i), Network: "198.51.100.0/24", Metadata: map[string]any{"i": i}}); err != nil {
			t.Fatal(err)
		}
	}
}

// logOf returns a test environment on s whose log holds 10 integrated
// events, with checkpoints at sizes 6 and 10.
func logOf(t *testing.T, s store.Store) *bootstraptest.Env {
	t.Helper()
	env := bootstraptest.New(t, s)
	fill(t, env.Audit, 0, 6)
	env.IntegrateAudit(t)
	fill(t, env.Audit, 6, 4)
	env.IntegrateAudit(t)
	return env
}

// dbTime is t as the store keeps it: SQLite has unix microseconds.
func dbTime(s store.Store, t time.Time) any {
	if _, ok := s.(*sqlite.DB); ok {
		return t.UnixMicro()
	}
	return t
}

// eventAt returns the integrated event at seq.
func eventAt(t *testing.T, s store.Store, seq int64) store.AuditEvent {
	t.Helper()
	e, err := s.AuditEventBySeq(context.Background(), seq)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// A tampered event, a removed event, a removed leaf, a reordered range and
// a rewritten checkpoint are each named by Verify, on both stores.
//
// Controls: AUDIT-1, AUDIT-5
func TestVerifyCatchesTampering(t *testing.T) {
	type tc struct {
		name    string
		tamper  func(t *testing.T, s store.Store, tamper tamperer)
		wantSeq int64
		reason  string
	}
	otherKey := func(t *testing.T) note.Signer {
		skey, _, err := note.GenerateKey(rand.Reader, "gatehouse.example.com/audit")
		if err != nil {
			t.Fatal(err)
		}
		signer, err := note.NewSigner(skey)
		if err != nil {
			t.Fatal(err)
		}
		return signer
	}
	cases := []tc{
		{"changed action", func(t *testing.T, s store.Store, tamper tamperer) {
			tamper(t, `UPDATE audit_events SET action = 'test.innocent' WHERE id = $1`, eventAt(t, s, 5).ID)
		}, 5, "contents"},
		{"changed time", func(t *testing.T, s store.Store, tamper tamperer) {
			e := eventAt(t, s, 2)
			tamper(t, `UPDATE audit_events SET at = $1 WHERE id = $2`, dbTime(s, e.Time.Add(time.Second)), e.ID)
		}, 2, "contents"},
		{"rehashed event", func(t *testing.T, s store.Store, tamper tamperer) {
			e := eventAt(t, s, 7)
			e.Actor = "someone-else"
			h := e.ComputeLeafHash()
			tamper(t, `UPDATE audit_events SET actor = 'someone-else', hash = $1 WHERE id = $2`, h[:], e.ID)
		}, 7, "contents"},
		{"removed event", func(t *testing.T, s store.Store, tamper tamperer) {
			tamper(t, `DELETE FROM audit_events WHERE id = $1`, eventAt(t, s, 5).ID)
		}, 5, "missing"},
		{"removed leaf", func(t *testing.T, s store.Store, tamper tamperer) {
			tamper(t, `DELETE FROM audit_leaves WHERE seq = 4`)
		}, 4, "leaf missing"},
		{"reordered range", func(t *testing.T, s store.Store, tamper tamperer) {
			a, b := eventAt(t, s, 3), eventAt(t, s, 4)
			for _, p := range [][2]store.AuditEvent{{a, b}, {b, a}} {
				to, from := p[0], p[1]
				tamper(t, `UPDATE audit_events SET at = $1, target = $2, metadata = $3, hash = $4 WHERE id = $5`,
					dbTime(s, from.Time), from.Target, from.Metadata, from.LeafHash[:], to.ID)
			}
		}, 3, "contents"},
		{"reordered leaves", func(t *testing.T, s store.Store, tamper tamperer) {
			leaves, _ := s.AuditLeaves(context.Background(), 0, 10)
			tamper(t, `UPDATE audit_leaves SET hash = $1 WHERE seq = 8`, leaves[8].Hash[:])
			tamper(t, `UPDATE audit_leaves SET hash = $1 WHERE seq = 9`, leaves[7].Hash[:])
		}, 8, "contents"},
		{"checkpoint root rewritten", func(t *testing.T, s store.Store, tamper tamperer) {
			tamper(t, `UPDATE audit_tree_heads SET root = $1 WHERE size = 6`, make([]byte, 32))
		}, 6, "does not match its signed note"},
		{"checkpoint re-signed by another key", func(t *testing.T, s store.Store, tamper tamperer) {
			text := auditproof.CheckpointText("gatehouse.example.com/audit", 6, [32]byte{1})
			forged, err := note.Sign(&note.Note{Text: text}, otherKey(t))
			if err != nil {
				t.Fatal(err)
			}
			root := [32]byte{1}
			tamper(t, `UPDATE audit_tree_heads SET note = $1, root = $2 WHERE size = 6`, string(forged), root[:])
		}, 6, "signature"},
		{"newest checkpoint rewritten", func(t *testing.T, s store.Store, tamper tamperer) {
			tamper(t, `UPDATE audit_tree_heads SET note = replace(note, 'audit', 'audlt') WHERE size = 10`)
		}, 10, "signature"},
	}
	for _, b := range backends {
		for _, c := range cases {
			t.Run(b.name+"/"+c.name, func(t *testing.T) {
				t.Parallel()
				s, tamper := b.open(t)
				ctx := context.Background()
				logOf(t, s)
				if r, err := audit.Verify(ctx, s); err != nil || r.Events != 10 || r.Size != 10 || r.Checkpoints < 2 {
					t.Fatalf("untouched log: %+v, %v", r, err)
				}
				c.tamper(t, s, tamper)
				_, err := audit.Verify(ctx, s)
				var broken *audit.BrokenLinkError
				if !errors.As(err, &broken) {
					t.Fatalf("Verify after tampering: err = %v, want a broken link", err)
				}
				if broken.Seq != c.wantSeq || !strings.Contains(broken.Reason, c.reason) {
					t.Fatalf("broken at %d (%s), want %d (%s)", broken.Seq, broken.Reason, c.wantSeq, c.reason)
				}
			})
		}
	}
}

// Controls: AUDIT-1, AUDIT-5
func TestApplicationCannotChangeAuditRows(t *testing.T) {
	db := pgtest.New(t)
	ctx := context.Background()
	logOf(t, db.Store)
	app := db.Store.Pool()
	for _, q := range []string{
		`UPDATE audit_events SET action = 'x' WHERE id = 1`,
		`DELETE FROM audit_events WHERE id = 1`,
		`TRUNCATE audit_events`,
		`UPDATE audit_leaves SET hash = hash WHERE seq = 1`,
		`DELETE FROM audit_leaves WHERE seq = 10`,
		`TRUNCATE audit_leaves`,
		`UPDATE audit_nodes SET hash = hash`,
		`DELETE FROM audit_nodes`,
		`UPDATE audit_tree_heads SET note = note`,
		`DELETE FROM audit_tree_heads WHERE size = 10`,
		`TRUNCATE audit_tree_heads`,
	} {
		if _, err := app.Exec(ctx, q); err == nil || !strings.Contains(err.Error(), "permission denied") {
			t.Errorf("application role ran %q: err = %v, want permission denied", q, err)
		}
		// Even the owner is stopped by the trigger.
		if _, err := db.Owner.Exec(ctx, q); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("owner ran %q: err = %v, want the append-only trigger", q, err)
		}
	}
	if r, err := audit.Verify(ctx, db.Store); err != nil || r.Events != 10 {
		t.Fatalf("Verify = %+v, %v", r, err)
	}
}

// Controls: AUDIT-1
func TestSQLiteAuditRowsAppendOnly(t *testing.T) {
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "a.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	logOf(t, db)
	for _, q := range []string{`UPDATE audit_events SET action = 'x'`, `DELETE FROM audit_events`,
		`UPDATE audit_leaves SET hash = hash`, `DELETE FROM audit_leaves`, `UPDATE audit_nodes SET hash = hash`,
		`DELETE FROM audit_nodes`, `UPDATE audit_tree_heads SET note = ''`, `DELETE FROM audit_tree_heads`} {
		if _, err := db.SQL().Exec(q); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%q: err = %v, want append-only", q, err)
		}
	}
}

// Controls: AUDIT-2
func TestRecordRefusesSecretMetadataAndLogsEvent(t *testing.T) {
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "a.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var buf bytes.Buffer
	l := audit.New(db, slog.New(slog.NewJSONHandler(&buf, nil)), func() time.Time { return epoch })
	for _, key := range []string{"password", "new_password", "client_secret", "refresh_token", "token", "code", "totp_code", "card_number", "Authorization"} {
		_, err := l.Record(context.Background(), audit.Event{Action: "x", Metadata: map[string]any{"outer": map[string]any{key: "v"}}})
		if !errors.Is(err, audit.ErrSecretMetadata) {
			t.Errorf("metadata key %q: err = %v, want ErrSecretMetadata", key, err)
		}
	}
	// Whatever Go type carries the key, at any depth.
	type creds struct{ Password string }
	for name, meta := range map[string]map[string]any{
		"slice of maps":   {"items": []any{map[string]any{"password": "hunter2hunter2"}}},
		"typed map":       {"creds": map[string]string{"client_secret": "s"}},
		"struct field":    {"login": creds{Password: "hunter2hunter2"}},
		"nested slices":   {"a": [][]map[string]int{{{"otp": 123456}}}},
		"pointer to map":  {"p": &map[string]any{"refresh_token": "r"}},
		"top-level token": {"token": "t"},
	} {
		if _, err := l.Record(context.Background(), audit.Event{Action: "x", Metadata: meta}); !errors.Is(err, audit.ErrSecretMetadata) {
			t.Errorf("%s: err = %v, want ErrSecretMetadata", name, err)
		}
	}
	if strings.Contains(buf.String(), "hunter2") {
		t.Fatal("a refused secret reached the log")
	}
	e, err := l.Record(context.Background(), audit.Event{Actor: "u1", Action: "auth.login", Network: "192.0.2.0/24",
		Metadata: map[string]any{"method": "password", "error_code": "bad", "b": 1, "a": []string{"x"}}})
	if err != nil {
		t.Fatal(err)
	}
	if e.Metadata != `{"a":["x"],"b":1,"error_code":"bad","method":"password"}` {
		t.Fatalf("metadata not canonical: %s", e.Metadata)
	}
	if e.ID != 1 || buf.Len() == 0 || !strings.Contains(buf.String(), `"audit_id":1`) || !strings.Contains(buf.String(), `"action":"auth.login"`) {
		t.Fatalf("event not logged: %s", buf.String())
	}
}
