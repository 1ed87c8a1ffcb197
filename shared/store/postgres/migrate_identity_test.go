package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse-dev/gatehouse/shared/store/postgres"
	"github.com/gatehouse-dev/gatehouse/shared/store/postgres/pgtest"
)

// Migration 0014 on data written before it: identities get distinct ids,
// and an account a provider sign-in created loses its e-mail verification
// (its address was never proven), while a registered account keeps it.
//
// Controls: AUTH-13
func TestMigrationUnprovesProviderAccounts(t *testing.T) {
	ctx := context.Background()
	base := pgtest.URL(t)
	var b [6]byte
	rand.Read(b[:])
	schema := "m_" + hex.EncodeToString(b[:])
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, `CREATE SCHEMA `+pgx.Identifier{schema}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Exec(context.Background(), `DROP SCHEMA `+pgx.Identifier{schema}.Sanitize()+` CASCADE`) })
	db, err := postgres.Open(ctx, postgres.Options{URL: base, SearchPath: schema, MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	applyBefore(t, db, "0014")
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, stmt := range []string{
		`INSERT INTO users (id, email, name, password_hash, email_verified_at, created_at, updated_at) VALUES
			('u-sso', 'victim@corp.example', '', '', $1, $1, $1),
			('u-pwd', 'alice@example.com', '', '$argon2id$x', $1, $1, $1)`,
		`INSERT INTO user_identities (provider, subject, user_id, created_at) VALUES
			('oidc:https://idp.example', 's1', 'u-sso', $1),
			('google', 's2', 'u-pwd', $1::timestamptz + interval '1 day'),
			('github', 's3', 'u-pwd', $1::timestamptz + interval '2 days')`,
	} {
		if _, err := db.Pool().Exec(ctx, stmt, created); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Migrate(ctx, ""); err != nil {
		t.Fatal(err)
	}
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
func applyBefore(t *testing.T, db *postgres.DB, first string) {
	t.Helper()
	ctx := context.Background()
	names, err := filepath.Glob("migrations/*.sql")
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(names)
	if _, err := db.Pool().Exec(ctx, `CREATE TABLE schema_migrations (version TEXT PRIMARY KEY, applied_at BIGINT NOT NULL)`); err != nil {
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
		if _, err := db.Pool().Exec(ctx, string(body)); err != nil {
			t.Fatalf("apply %s: %v", version, err)
		}
		if _, err := db.Pool().Exec(ctx, `INSERT INTO schema_migrations VALUES ($1, 0)`, version); err != nil {
			t.Fatal(err)
		}
	}
}
