package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse-dev/gatehouse/shared/store/postgres/pgtest"
)

// `gatehouse migrate` on PostgreSQL: two migrators at once apply every
// migration exactly once between them (the advisory lock), a third run
// applies nothing, every version is recorded, and the application role
// gets its grants. Only the database settings are needed.
//
// Controls: APP-2, AUDIT-1
func TestMigrateCommand(t *testing.T) {
	base := pgtest.URL(t)
	ctx := context.Background()
	var b [6]byte
	rand.Read(b[:])
	schema := "m_" + hex.EncodeToString(b[:])
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, `CREATE SCHEMA `+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Exec(context.Background(), `DROP SCHEMA `+schema+` CASCADE`) })
	if _, err := admin.Exec(ctx, `DO $$ BEGIN CREATE ROLE gatehouse_migrate_app NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$`); err != nil {
		t.Fatal(err)
	}
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	t.Setenv("GATEHOUSE_DB_URL", base+sep+"search_path="+schema)
	t.Setenv("GATEHOUSE_DATA_DIR", t.TempDir())

	outs := make([]string, 2)
	var wg sync.WaitGroup
	for i := range outs {
		wg.Go(func() {
			out, err := run(t, "migrate", "--app-role", "gatehouse_migrate_app")
			if err != nil {
				t.Errorf("migrator %d: %v\n%s", i, err, out)
			}
			outs[i] = out
		})
	}
	wg.Wait()
	files, err := migrationCount()
	if err != nil {
		t.Fatal(err)
	}
	if applied := strings.Count(outs[0]+outs[1], "applied "); applied != files {
		t.Fatalf("the two migrators applied %d migrations between them, want %d:\n%s\n%s", applied, files, outs[0], outs[1])
	}
	if out, err := run(t, "migrate", "--app-role", "gatehouse_migrate_app"); err != nil || !strings.Contains(out, "up to date") {
		t.Fatalf("third run: %v\n%s", err, out)
	}
	var recorded int
	if err := admin.QueryRow(ctx, `SELECT count(*) FROM `+schema+`.schema_migrations`).Scan(&recorded); err != nil || recorded != files {
		t.Fatalf("schema_migrations has %d rows (%v), want %d", recorded, err, files)
	}
	var canInsert, canUpdate bool
	if err := admin.QueryRow(ctx, `SELECT has_table_privilege('gatehouse_migrate_app', $1, 'INSERT'),
		has_table_privilege('gatehouse_migrate_app', $1, 'UPDATE')`, schema+".audit_events").Scan(&canInsert, &canUpdate); err != nil {
		t.Fatal(err)
	}
	if !canInsert || canUpdate {
		t.Fatalf("application role on audit_events: insert %v, update %v; want insert only", canInsert, canUpdate)
	}
}

// migrationCount is the number of PostgreSQL migration files.
func migrationCount() (int, error) {
	files, err := filepath.Glob("../../shared/store/postgres/migrations/*.sql")
	return len(files), err
}

// On a fresh database `gatehouse migrate` creates the application role
// itself, makes the functions' users members of it and grants it least
// privilege, so no statement is run by hand; two migrators at once and a
// third run later all succeed. A member that does not exist fails the run.
//
// Controls: INFRA-1, INFRA-9, AUDIT-1
func TestMigrateCreatesApplicationRole(t *testing.T) {
	base := pgtest.URL(t)
	ctx := context.Background()
	var b [6]byte
	rand.Read(b[:])
	suffix := hex.EncodeToString(b[:])
	schema, role := "m_"+suffix, "gh_app_"+suffix
	members := []string{"gh-auth-" + suffix + "@p.iam", "gh-rotate-" + suffix + "@p.iam"}
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	for _, stmt := range []string{`CREATE SCHEMA ` + schema,
		`CREATE ROLE ` + pgx.Identifier{members[0]}.Sanitize() + ` NOLOGIN`,
		`CREATE ROLE ` + pgx.Identifier{members[1]}.Sanitize() + ` NOLOGIN`} {
		if _, err := admin.Exec(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		for _, stmt := range []string{`DROP SCHEMA ` + schema + ` CASCADE`, `DROP ROLE IF EXISTS ` + role,
			`DROP ROLE ` + pgx.Identifier{members[0]}.Sanitize(), `DROP ROLE ` + pgx.Identifier{members[1]}.Sanitize()} {
			admin.Exec(context.Background(), stmt)
		}
	})
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	t.Setenv("GATEHOUSE_DB_URL", base+sep+"search_path="+schema)
	t.Setenv("GATEHOUSE_DATA_DIR", t.TempDir())

	args := []string{"migrate", "--app-role", role, "--app-member", members[0] + "," + members[1]}
	var wg sync.WaitGroup
	for i := range 2 {
		wg.Go(func() {
			if out, err := run(t, args...); err != nil {
				t.Errorf("migrator %d: %v\n%s", i, err, out)
			}
		})
	}
	wg.Wait()
	if out, err := run(t, args...); err != nil || !strings.Contains(out, "up to date") {
		t.Fatalf("third run: %v\n%s", err, out)
	}
	var canLogin bool
	if err := admin.QueryRow(ctx, `SELECT rolcanlogin FROM pg_roles WHERE rolname = $1`, role).Scan(&canLogin); err != nil || canLogin {
		t.Fatalf("role %s: login %v, err %v; want an existing NOLOGIN role", role, canLogin, err)
	}
	for _, m := range members {
		var member, insert, update bool
		if err := admin.QueryRow(ctx, `SELECT pg_has_role($1, $2, 'MEMBER'), has_table_privilege($1, $3, 'INSERT'), has_table_privilege($1, $3, 'UPDATE')`,
			m, role, schema+".audit_events").Scan(&member, &insert, &update); err != nil {
			t.Fatal(err)
		}
		if !member || !insert || update {
			t.Fatalf("%s: member %v, insert on audit_events %v, update %v; want member with insert only", m, member, insert, update)
		}
	}
	if out, err := run(t, "migrate", "--app-role", role, "--app-member", "missing-"+suffix+"@p.iam"); err == nil {
		t.Fatalf("a member that does not exist was accepted:\n%s", out)
	}
}
