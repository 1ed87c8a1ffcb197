package sqlite_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/store/sqlite"
)

// Migration 0014 on data written before it: identities get distinct ids,
// and an account a provider sign-in created loses its e-mail verification
// (its address was never proven), while a registered account keeps it.
//
// Controls: AUTH-13
func TestMigrationUnprovesProviderAccounts(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	raw, err := sql.Open("sqlite", "file:"+path+"?_pragma=foreign_keys(1)")
	if err != nil {
		t.Fatal(err)
	}
	applyBefore(t, raw, "0014")
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	at := func(d time.Duration) int64 { return created.Add(d).UnixMicro() }
	for _, stmt := range []struct {
		q    string
		args []any
	}{
		{`INSERT INTO users (id, email, name, password_hash, email_verified_at, created_at, updated_at) VALUES
			('u-sso', 'victim@corp.example', '', '', ?1, ?1, ?1), ('u-pwd', 'alice@example.com', '', '$argon2id$x', ?1, ?1, ?1)`,
			[]any{at(0)}},
		{`INSERT INTO user_identities (provider, subject, user_id, created_at) VALUES
			('oidc:https://idp.example', 's1', 'u-sso', ?1), ('google', 's2', 'u-pwd', ?2), ('github', 's3', 'u-pwd', ?3)`,
			[]any{at(0), at(24 * time.Hour), at(48 * time.Hour)}},
	} {
		if _, err := raw.ExecContext(ctx, stmt.q, stmt.args...); err != nil {
			t.Fatal(err)
		}
	}
	raw.Close()

	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if u, err := db.User(ctx, "u-sso"); err != nil || !u.EmailVerifiedAt.IsZero() {
		t.Fatalf("provider-created account: %+v, %v; want its address unproven", u, err)
	}
	if u, err := db.User(ctx, "u-pwd"); err != nil || !u.EmailVerifiedAt.Equal(created) {
		t.Fatalf("registered account: %+v, %v; want its verification kept", u, err)
	}
	ids, err := db.UserIdentities(ctx, "u-pwd")
	if err != nil || len(ids) != 2 || !strings.HasPrefix(ids[0].ID, "idn_") || ids[0].ID == ids[1].ID {
		t.Fatalf("identities after migration: %+v, %v", ids, err)
	}
}

// applyBefore applies, as the migrator would, every migration file named
// before the version first, and records them.
func applyBefore(t *testing.T, db *sql.DB, first string) {
	t.Helper()
	names, err := filepath.Glob("migrations/*.sql")
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(names)
	if _, err := db.Exec(`CREATE TABLE schema_migrations (version TEXT PRIMARY KEY, applied_at BIGINT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		version := strings.TrimSuffix(filepath.Base(name), ".sql")
		if version >= first {
			break
		}
		body, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(string(body)); err != nil {
			t.Fatalf("apply %s: %v", version, err)
		}
		if _, err := db.Exec(`INSERT INTO schema_migrations VALUES (?, 0)`, version); err != nil {
			t.Fatal(err)
		}
	}
}
