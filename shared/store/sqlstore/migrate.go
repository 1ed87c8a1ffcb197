package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"time"
)

// Migrate applies, in name order, every *.sql file in dir of migrations that
// is not yet recorded in schema_migrations, each in its own transaction
// together with its record. lock, if not empty, is a statement run first in
// each transaction to keep concurrent migrators apart. Files are named
// NNNN_topic.sql; the name without ".sql" is the version.
func Migrate(ctx context.Context, pool Pool, migrations fs.FS, lock string, now func() time.Time) (applied []string, err error) {
	names, err := fs.Glob(migrations, "*.sql")
	if err != nil {
		return nil, fmt.Errorf("list migrations: %w", err)
	}
	if len(names) == 0 {
		return nil, errors.New("no migrations found")
	}
	sort.Strings(names)
	// Under the lock too: PostgreSQL's CREATE TABLE IF NOT EXISTS is not
	// safe against a concurrent migrator creating the same table.
	if err := pool.InTx(ctx, func(c Conn) error {
		if lock != "" {
			// sqltext: lock is the driver's constant advisory-lock statement.
			if _, err := c.Exec(ctx, lock); err != nil {
				return fmt.Errorf("lock migrations: %w", err)
			}
		}
		_, err := c.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version TEXT PRIMARY KEY, applied_at BIGINT NOT NULL)`)
		return err
	}); err != nil {
		return nil, fmt.Errorf("create schema_migrations: %w", err)
	}
	for _, name := range names {
		version := strings.TrimSuffix(path.Base(name), ".sql")
		body, err := fs.ReadFile(migrations, name)
		if err != nil {
			return applied, fmt.Errorf("read migration %s: %w", version, err)
		}
		did, err := migrateOne(ctx, pool, version, string(body), lock, now())
		if err != nil {
			return applied, err
		}
		if did {
			applied = append(applied, version)
		}
	}
	return applied, nil
}

func migrateOne(ctx context.Context, pool Pool, version, body, lock string, now time.Time) (bool, error) {
	did := false
	err := pool.InTx(ctx, func(c Conn) error {
		did = false
		if lock != "" {
			// sqltext: lock is the driver's constant advisory-lock statement.
			if _, err := c.Exec(ctx, lock); err != nil {
				return fmt.Errorf("lock migrations: %w", err)
			}
		}
		var n int64
		if err := c.QueryRow(ctx, `SELECT count(*) FROM schema_migrations WHERE version = $1`, version).Scan(&n); err != nil {
			return fmt.Errorf("check migration %s: %w", version, err)
		}
		if n > 0 {
			return nil
		}
		// sqltext: body is a migration file embedded in the binary.
		if _, err := c.Exec(ctx, body); err != nil {
			return fmt.Errorf("apply migration %s: %w", version, err)
		}
		if _, err := c.Exec(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)`,
			version, now.UnixMicro()); err != nil {
			return fmt.Errorf("record migration %s: %w", version, err)
		}
		did = true
		return nil
	})
	return did, err
}
