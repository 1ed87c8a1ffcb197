package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// EnsureAppRole creates the application's group role (NOLOGIN) when it
// does not exist and makes each of members a member of it, so that a fresh
// database needs no statement run by hand: on Cloud SQL the migrator's IAM
// user (cloudsqlsuperuser) creates the role and grants it to the
// functions' IAM users, which log in and act through it. Members must
// already exist (Terraform creates the IAM users). It runs under the
// migration lock, so concurrent migrators do not race; granting what is
// already granted changes nothing. [DB.Migrate] then grants the role its
// privileges.
func (db *DB) EnsureAppRole(ctx context.Context, role string, members []string) error {
	if role == "" {
		return fmt.Errorf("ensure application role: no role name")
	}
	name := pgx.Identifier{role}.Sanitize()
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, migrationLock); err != nil {
			return err
		}
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)`, role).Scan(&exists); err != nil {
			return err
		}
		if !exists {
			if _, err := tx.Exec(ctx, `CREATE ROLE `+name+` NOLOGIN`); err != nil {
				return fmt.Errorf("create role %s: %w", role, err)
			}
		}
		for _, m := range members {
			var member bool
			if err := tx.QueryRow(ctx, `SELECT pg_has_role($1, $2, 'MEMBER')`, m, role).Scan(&member); err != nil {
				return fmt.Errorf("member %s: %w", m, interpret(err))
			}
			if member {
				continue
			}
			if _, err := tx.Exec(ctx, `GRANT `+name+` TO `+pgx.Identifier{m}.Sanitize()); err != nil {
				return fmt.Errorf("grant %s to %s: %w", role, m, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("ensure application role: %w", err)
	}
	return nil
}
