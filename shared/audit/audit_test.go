package audit_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse-dev/gatehouse/shared/audit"
	"github.com/gatehouse-dev/gatehouse/shared/store"
	"github.com/gatehouse-dev/gatehouse/shared/store/postgres/pgtest"
	"github.com/gatehouse-dev/gatehouse/shared/store/sqlite"
)

var epoch = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

// tamperer does, with privileges the application does not have, what an
// attacker with database access might: run one statement on audit_events
// with the append-only guard switched off.
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
			if _, err := db.SQL().Exec(`DROP TRIGGER IF EXISTS audit_events_no_update;
				INSERT INTO audit_retention_gate (open) VALUES (1)`); err != nil {
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

func fill(t *testing.T, l *audit.Log, n int) {
	t.Helper()
	for i := range n {
		if _, err := l.Record(context.Background(), audit.Event{Actor: "user-1", OrgID: "org-1", Action: "test.step",
			Target: fmt.Sprint(i), Network: "198.51.100.0/24", Metadata: map[string]any{"i": i}}); err != nil {
			t.Fatal(err)
		}
	}
}

// Controls: AUDIT-1
func TestVerifyCatchesTampering(t *testing.T) {
	cases := []struct {
		name    string
		sql     string
		args    []any
		wantSeq int64
		reason  string
		sqlite  string // the statement on SQLite, where it differs
	}{
		{name: "changed action", sql: `UPDATE audit_events SET action = 'test.innocent' WHERE seq = 5`, wantSeq: 5, reason: "contents"},
		{name: "changed actor", sql: `UPDATE audit_events SET actor = 'someone-else' WHERE seq = 1`, wantSeq: 1, reason: "contents"},
		{name: "changed time", sql: `UPDATE audit_events SET at = at + interval '1 second' WHERE seq = 2`, wantSeq: 2, reason: "contents",
			sqlite: `UPDATE audit_events SET at = at + 1000000 WHERE seq = 2`},
		{name: "deleted event", sql: `DELETE FROM audit_events WHERE seq = 5`, wantSeq: 5, reason: "missing"},
		{name: "deleted tail", sql: `DELETE FROM audit_events WHERE seq = 10`, wantSeq: 10, reason: "head"},
		{name: "rehashed event", sql: `UPDATE audit_events SET hash = $1 WHERE seq = 5`, args: []any{make([]byte, 32)}, wantSeq: 5, reason: "contents"},
		{name: "forged link", sql: `UPDATE audit_events SET prev_hash = $1 WHERE seq = 3`, args: []any{make([]byte, 32)}, wantSeq: 3, reason: "link"},
	}
	for _, b := range backends {
		for _, tc := range cases {
			t.Run(b.name+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				s, tamper := b.open(t)
				ctx := context.Background()
				fill(t, audit.New(s, nil, func() time.Time { return epoch }), 10)
				if r, err := audit.Verify(ctx, s); err != nil || r.Events != 10 {
					t.Fatalf("untouched chain: %+v, %v", r, err)
				}
				q := tc.sql
				if b.name == "sqlite" && tc.sqlite != "" {
					q = tc.sqlite
				}
				tamper(t, q, tc.args...)
				_, err := audit.Verify(ctx, s)
				var broken *audit.BrokenLinkError
				if !errors.As(err, &broken) {
					t.Fatalf("Verify after tampering: err = %v, want a broken link", err)
				}
				if broken.Seq != tc.wantSeq || !strings.Contains(broken.Reason, tc.reason) {
					t.Fatalf("broken link at %d (%s), want %d (%s)", broken.Seq, broken.Reason, tc.wantSeq, tc.reason)
				}
			})
		}
	}
}

// Controls: AUDIT-1
func TestApplicationCannotChangeAuditRows(t *testing.T) {
	db := pgtest.New(t)
	ctx := context.Background()
	fill(t, audit.New(db.Store, nil, nil), 3)
	app := db.Store.Pool()
	for _, q := range []string{
		`UPDATE audit_events SET action = 'x' WHERE seq = 1`,
		`DELETE FROM audit_events WHERE seq = 1`,
		`TRUNCATE audit_events`,
	} {
		if _, err := app.Exec(ctx, q); err == nil || !strings.Contains(err.Error(), "permission denied") {
			t.Errorf("application role ran %q: err = %v, want permission denied", q, err)
		}
		// Even the owner is stopped by the trigger.
		if _, err := db.Owner.Exec(ctx, q); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("owner ran %q: err = %v, want the append-only trigger", q, err)
		}
	}
	if r, err := audit.Verify(ctx, db.Store); err != nil || r.Events != 3 {
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
	fill(t, audit.New(db, nil, nil), 2)
	for _, q := range []string{`UPDATE audit_events SET action = 'x'`, `DELETE FROM audit_events`} {
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
	if e.Seq != 1 || buf.Len() == 0 || !strings.Contains(buf.String(), `"audit_seq":1`) || !strings.Contains(buf.String(), `"action":"auth.login"`) {
		t.Fatalf("event not logged: %s", buf.String())
	}
}
