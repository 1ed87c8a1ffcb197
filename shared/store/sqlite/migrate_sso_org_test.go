package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/gatehouse-dev/gatehouse/shared/store"
	"github.com/gatehouse-dev/gatehouse/shared/store/sqlite"
)

// Migration 0077 on sessions written before it: one whose amr names an
// organization's SSO ("sso") cannot be attributed and is marked
// [store.SSOOrgUnknown], so every organization's deprovisioning ends it;
// the others record no organization.
//
// Controls: AUTHZ-5
func TestMigrationMarksUnattributedSSOSessions(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	raw, err := sql.Open("sqlite", "file:"+path+"?_pragma=foreign_keys(1)")
	if err != nil {
		t.Fatal(err)
	}
	applyBefore(t, raw, "0077")
	if _, err := raw.ExecContext(ctx, `INSERT INTO users (id, email, name, password_hash, created_at, updated_at)
		VALUES ('u1', 'a@corp.example', '', '', 1, 1)`); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"fed sso": store.SSOOrgUnknown, "sso": store.SSOOrgUnknown, "fed sso otp": store.SSOOrgUnknown,
		"fed": "", "pwd": "", "pwd otp": "", "fed ssox": ""}
	for methods := range want {
		if _, err := raw.ExecContext(ctx, `INSERT INTO sessions (id, user_id, created_at, last_seen_at, idle_expires_at,
			absolute_expires_at, network, user_agent, device_id, auth_methods, auth_level, auth_time, revoke_reason,
			refresh_key, refresh_key_key_id) VALUES (?1, 'u1', 1, 1, 2, 2, '', '', '', ?1, 1, 1, '', x'00', 'k')`, methods); err != nil {
			t.Fatal(err)
		}
	}
	raw.Close()

	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for methods, org := range want {
		if s, err := db.Session(ctx, methods); err != nil || s.SSOOrgID != org {
			t.Errorf("session with amr %q: SSOOrgID %q, %v; want %q", methods, s.SSOOrgID, err, org)
		}
	}
}
