package main

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatehouse-dev/gatehouse/functions/rotate"
	"github.com/gatehouse-dev/gatehouse/shared/audit"
	"github.com/gatehouse-dev/gatehouse/shared/auditproof"
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
	cmd := &cobra.Command{Use: "audit", Short: "Audit log operations: verify, public-key, prove, verify-proof"}
	var key string
	verify := &cobra.Command{
		Use:   "verify",
		Short: "Verify the stored log up to its newest signed checkpoint; name the first broken event",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withDeps(cmd, func(d *bootstrap.Deps) error {
				opts := []audit.VerifyOption{audit.CheckCheckpoint(rotate.CheckpointChecker(d.Store, d.Keyring))}
				if key != "" {
					opts = append(opts, audit.WithPublicKey(key))
				}
				r, err := audit.Verify(cmd.Context(), d.Store, opts...)
				var broken *audit.BrokenLinkError
				if errors.As(err, &broken) {
					fmt.Fprintf(cmd.OutOrStdout(), "BROKEN at event %d: %s\n", broken.Seq, broken.Reason)
					return errors.New("audit log verification failed")
				}
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "ok: checkpoint %d (root %s) verified: %d events checked, %d past retention, %d checkpoints\n",
					r.Size, base64.StdEncoding.EncodeToString(r.Root[:]), r.Events, r.Pruned, r.Checkpoints)
				return nil
			})
		},
	}
	verify.Flags().StringVar(&key, "key", "", "published public key (note verifier key) to check signatures with; default: the stored one")
	publicKey := &cobra.Command{
		Use:   "public-key",
		Short: "Print the log's public key (note verifier key) to publish; proofs verify with it alone",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withDeps(cmd, func(d *bootstrap.Deps) error {
				k, err := d.Sequencer.Signer().PublicKey(cmd.Context())
				if err != nil {
					return err
				}
				fmt.Fprintln(cmd.OutOrStdout(), k)
				return nil
			})
		},
	}
	cmd.AddCommand(verify, publicKey, newAuditProve(), newAuditVerifyProof())
	return cmd
}

func newAuditProve() *cobra.Command {
	var seq, size, from, to int64
	cmd := &cobra.Command{
		Use:   "prove (--seq N [--size M] | --from A [--to B])",
		Short: "Print an inclusion proof of event N, or a consistency proof from checkpoint A to B, as JSON",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withDeps(cmd, func(d *bootstrap.Deps) error {
				p := audit.NewProver(d.Store)
				var bundle any
				switch {
				case seq > 0:
					ev, err := d.Store.AuditEventBySeq(cmd.Context(), seq)
					if err != nil {
						return err
					}
					if bundle, err = p.Inclusion(cmd.Context(), ev, size); err != nil {
						return err
					}
				case from > 0:
					var err error
					if bundle, err = p.Consistency(cmd.Context(), from, to); err != nil {
						return err
					}
				default:
					return errors.New("give --seq or --from")
				}
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(bundle)
			})
		},
	}
	cmd.Flags().Int64Var(&seq, "seq", 0, "event to prove (1-based position in the log)")
	cmd.Flags().Int64Var(&size, "size", 0, "checkpoint size to prove against (default: the newest)")
	cmd.Flags().Int64Var(&from, "from", 0, "older checkpoint size")
	cmd.Flags().Int64Var(&to, "to", 0, "newer checkpoint size (default: the newest)")
	return cmd
}

func newAuditVerifyProof() *cobra.Command {
	var key string
	cmd := &cobra.Command{
		Use:   "verify-proof --key PUBLIC-KEY FILE",
		Short: "Check an inclusion or consistency proof offline with only the log's public key",
		Long: `verify-proof reads a proof bundle (from "gatehouse audit prove" or the API; - for
standard input) and checks it with the published public key alone: no database,
no network. --key is the note verifier key, or @FILE to read it from a file.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pub, err := readArg(key)
			if err != nil {
				return err
			}
			raw, err := readFileArg(cmd, args[0])
			if err != nil {
				return err
			}
			msg, err := verifyBundle(raw, pub)
			if err != nil {
				fmt.Fprintln(cmd.OutOrStdout(), "FAILED:", err)
				return errors.New("proof does not verify")
			}
			fmt.Fprintln(cmd.OutOrStdout(), "ok:", msg)
			return nil
		},
	}
	cmd.Flags().StringVar(&key, "key", "", "the log's public key (note verifier key), or @FILE")
	cmd.MarkFlagRequired("key")
	return cmd
}

// verifyBundle checks an inclusion or a consistency bundle, whichever raw
// holds, with only the public key.
func verifyBundle(raw []byte, pub string) (string, error) {
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(raw, &probe); err != nil {
		return "", fmt.Errorf("read proof: %w", err)
	}
	if _, ok := probe["event"]; ok {
		var b auditproof.InclusionBundle
		if err := json.Unmarshal(raw, &b); err != nil {
			return "", fmt.Errorf("read inclusion proof: %w", err)
		}
		cp, err := b.Verify(pub)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("event %d (%s by %s at %s) is in checkpoint %d of %s", b.Event.Seq, b.Event.Action,
			b.Event.Actor, b.Event.Time.UTC().Format(time.RFC3339), cp.Size, cp.Origin), nil
	}
	var b auditproof.ConsistencyBundle
	if err := json.Unmarshal(raw, &b); err != nil {
		return "", fmt.Errorf("read consistency proof: %w", err)
	}
	older, newer, err := b.Verify(pub)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("checkpoint %d extends checkpoint %d of %s", newer.Size, older.Size, older.Origin), nil
}

func readArg(v string) (string, error) {
	if name, ok := strings.CutPrefix(v, "@"); ok {
		b, err := os.ReadFile(name)
		return strings.TrimSpace(string(b)), err
	}
	return strings.TrimSpace(v), nil
}

func readFileArg(cmd *cobra.Command, name string) ([]byte, error) {
	if name == "-" {
		return io.ReadAll(io.LimitReader(cmd.InOrStdin(), 1<<20))
	}
	return os.ReadFile(name)
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
	if err := fn(d); err != nil {
		return err
	}
	// Integrate what the command recorded, if no function instance does it
	// first (best effort: the functions integrate it anyway).
	d.Sequencer.Integrate(cmd.Context())
	return nil
}
