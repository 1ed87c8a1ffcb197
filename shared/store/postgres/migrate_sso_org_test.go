package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse-dev/gatehouse/shared/store"
	"github.com/gatehouse-dev/gatehouse/shared/store/postgres"
	"github.com/gatehouse-dev/gatehouse/shared/store/postgres/pgtest"
)

// Migration 0077 on sessions written before it: one whose amr names an
// organization's SSO ("sso") cannot be attributed and is marked
// [store.SSOOrgUnknown], so every organization's deprovisioning ends it;
// the others record no organization.
//
// Controls: AUTHZ-5
func TestMigrationMarksUnattributedSSOSessions(t *testing.T) {
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

	applyBefore(t, db, "0077")
	if _, err := db.Pool().Exec(ctx, `INSERT INTO users (id, email, name, password_hash, created_at, updated_at)
		VALUES ('u1', 'a@corp.example', '', '', now(), now())`); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"fed sso": store.SSOOrgUnknown, "sso": store.SSOOrgUnknown, "fed sso otp": store.SSOOrgUnknown,
		"fed": "", "pwd": "", "pwd otp": "", "fed ssox": ""}
	for methods := range want {
		if _, err := db.Pool().Exec(ctx, `INSERT INTO sessions (id, user_id, created_at, last_seen_at, idle_expires_at,
			absolute_expires_at, network, user_agent, device_id, auth_methods, auth_level, auth_time, revoke_reason,
			refresh_key, refresh_key_key_id) VALUES ($1, 'u1', now(), now(), now(), now(), '', '', '', $1, 1, now(), '', '\x00', 'k')`,
			methods); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Migrate(ctx, ""); err != nil {
		t.Fatal(err)
	}
	for methods, org := range want {
		if s, err := db.Session(ctx, methods); err != nil || s.SSOOrgID != org {
			t.Errorf("session with amr %q: SSOOrgID %q, %v; want %q", methods, s.SSOOrgID, err, org)
		}
	}
}
