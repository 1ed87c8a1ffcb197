package main

import (
	"errors"
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/gatehouse-dev/gatehouse/functions/rotate"
	"github.com/gatehouse-dev/gatehouse/shared/audit"
	"github.com/gatehouse-dev/gatehouse/shared/bootstrap"
	"github.com/gatehouse-dev/gatehouse/shared/store/postgres"
)

func newMigrate() *cobra.Command {
	var appRole string
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Apply pending database migrations (run with an owner role)",
		Long: `Migrate applies pending migrations. On PostgreSQL, run it as the schema owner
and name the role the functions connect as with --app-role: that role is granted
what the application needs, and only SELECT and INSERT on the audit log.
The embedded SQLite database migrates itself on open.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// Only the database: migrating needs no KMS key, topic or public URL.
			s, base, err := bootstrap.StoreFromEnv(cmd.Context())
			if err != nil {
				return err
			}
			defer s.Close()
			pg, ok := s.(*postgres.DB)
			if !ok {
				fmt.Fprintln(cmd.OutOrStdout(), "SQLite database is up to date:", base.SQLitePath())
				return nil
			}
			applied, err := pg.Migrate(cmd.Context(), appRole)
			for _, v := range applied {
				fmt.Fprintln(cmd.OutOrStdout(), "applied", v)
			}
			if err == nil && len(applied) == 0 {
				fmt.Fprintln(cmd.OutOrStdout(), "database is up to date")
			}
			return err
		},
	}
	cmd.Flags().StringVar(&appRole, "app-role", "", "PostgreSQL role the functions connect as (granted least privilege)")
	return cmd
}

func newAudit() *cobra.Command {
	cmd := &cobra.Command{Use: "audit", Short: "Audit log operations"}
	cmd.AddCommand(&cobra.Command{
		Use:   "verify",
		Short: "Walk the hash chain and name the first broken link",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withDeps(cmd, func(d *bootstrap.Deps) error {
				r, err := audit.Verify(cmd.Context(), d.Store, audit.CheckCheckpoint(rotate.CheckpointChecker(d.Store, d.Keyring)))
				var broken *audit.BrokenLinkError
				if errors.As(err, &broken) {
					fmt.Fprintf(cmd.OutOrStdout(), "BROKEN at event %d: %s\n", broken.Seq, broken.Reason)
					return errors.New("audit chain verification failed")
				}
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "ok: %d events verified (seq %d..%d), head %x\n", r.Events, r.From, r.To, r.Head)
				return nil
			})
		},
	})
	return cmd
}

func newKeys() *cobra.Command {
	cmd := &cobra.Command{Use: "keys", Short: "Data-key operations"}
	cmd.AddCommand(&cobra.Command{
		Use:   "list",
		Short: "List data keys and their states",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withDeps(cmd, func(d *bootstrap.Deps) error {
				keys, err := d.Store.ListDataKeys(cmd.Context())
				if err != nil {
					return err
				}
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tSTATE\tCREATED\tKEK VERSION")
				for _, k := range keys {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", k.ID, k.State, k.CreatedAt.UTC().Format("2006-01-02T15:04:05Z"), k.KEKVersion)
				}
				return tw.Flush()
			})
		},
	})
	cmd.AddCommand(&cobra.Command{
		Use:   "rotate",
		Short: "Make a new primary data key (the old one stays decrypt-only)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withDeps(cmd, func(d *bootstrap.Deps) error {
				k, err := d.Keyring.Rotate(cmd.Context())
				if err != nil {
					return err
				}
				if _, err := d.Audit.Record(cmd.Context(), audit.Event{Actor: "cli:" + currentUser(), Action: "keys.rotate", Target: k.ID}); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "new primary data key %s\n", k.ID)
				return nil
			})
		},
	})
	return cmd
}

func currentUser() string {
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	return "operator"
}

// withDeps opens the dependencies the GATEHOUSE_* variables describe, runs
// fn with them and closes them when fn returns.
func withDeps(cmd *cobra.Command, fn func(d *bootstrap.Deps) error) error {
	d, _, err := bootstrap.FromEnv(cmd.Context())
	if err != nil {
		return err
	}
	defer d.Close()
	return fn(d)
}
