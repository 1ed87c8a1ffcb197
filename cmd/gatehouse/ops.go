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
	var appMembers []string
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Apply pending database migrations (run with an owner role)",
		Long: `Migrate applies pending migrations. On PostgreSQL, run it as the schema owner
and name the role the functions connect as with --app-role: the role is created
(NOLOGIN) when missing, each --app-member (the functions' database users) is made
a member of it, and it is granted what the application needs, with only SELECT
and INSERT on the audit log. On Cloud SQL the Cloud Run job gatehouse-migrate
runs it as the migrator's IAM user (terraform/README.md).
The embedded SQLite database migrates itself on open.`,
		Example: `  GATEHOUSE_DB_URL=postgres://owner@10.0.0.5/gatehouse?sslmode=verify-full gatehouse migrate --app-role gatehouse_app \
    --app-member gh-auth@PROJECT.iam --app-member gh-rotate@PROJECT.iam
  gatehouse migrate --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// Only the database: migrating needs no KMS key, topic or public URL.
			s, base, err := bootstrap.StoreFromEnv(cmd.Context())
			if err != nil {
				return err
			}
			defer s.Close()
			out := cmd.OutOrStdout()
			pg, ok := s.(*postgres.DB)
			if !ok {
				if jsonFlag(cmd) {
					return writeJSON(out, map[string]any{"database": "sqlite", "path": base.SQLitePath(), "applied": []string{}})
				}
				fmt.Fprintln(out, "SQLite database is up to date:", base.SQLitePath())
				return nil
			}
			if appRole != "" {
				if err := pg.EnsureAppRole(cmd.Context(), appRole, appMembers); err != nil {
					return err
				}
			} else if len(appMembers) > 0 {
				return errors.New("--app-member needs --app-role")
			}
			applied, err := pg.Migrate(cmd.Context(), appRole)
			if jsonFlag(cmd) {
				if applied == nil {
					applied = []string{}
				}
				if jerr := writeJSON(out, map[string]any{"database": "postgres", "applied": applied}); jerr != nil {
					return jerr
				}
				return err
			}
			for _, v := range applied {
				fmt.Fprintln(out, "applied", v)
			}
			if err == nil && len(applied) == 0 {
				fmt.Fprintln(out, "database is up to date")
			}
			return err
		},
	}
	cmd.Flags().StringVar(&appRole, "app-role", "", "PostgreSQL group role the functions act through (created when missing, granted least privilege)")
	cmd.Flags().StringSliceVar(&appMembers, "app-member", nil, "database user made a member of --app-role (repeat, or separate with commas)")
	return cmd
}

func newAudit() *cobra.Command {
	cmd := &cobra.Command{Use: "audit", Short: "Audit log operations: verify, public-key, prove, verify-proof",
		Example: "  gatehouse audit verify --json\n  gatehouse audit prove --seq 42 > proof.json"}
	var key string
	verify := &cobra.Command{
		Use:   "verify",
		Short: "Verify the stored log up to its newest signed checkpoint; name the first broken event",
		Long: `Verify checks the stored log up to its newest signed checkpoint (see
shared/audit.Verify) and names the first event or checkpoint that was changed,
inserted, removed or reordered. Progress goes to stderr at most once a second;
the result to stdout (--json: one object whose "ok" is true or false). It exits
non-zero when the log does not verify.`,
		Example: "  gatehouse audit verify\n  gatehouse audit verify --json | jq .events\n  gatehouse audit verify --key @published-key.txt",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withDeps(cmd, func(d *bootstrap.Deps) error {
				opts := []audit.VerifyOption{audit.CheckCheckpoint(rotate.CheckpointChecker(d.Store, d.Keyring)),
					audit.Progress(verifyProgress(cmd.ErrOrStderr()))}
				if key != "" {
					opts = append(opts, audit.WithPublicKey(key))
				}
				r, err := audit.Verify(cmd.Context(), d.Store, opts...)
				return printVerify(cmd, r, err)
			})
		},
	}
	verify.Flags().StringVar(&key, "key", "", "published public key (note verifier key) to check signatures with; default: the stored one")
	publicKey := &cobra.Command{
		Use:     "public-key",
		Short:   "Print the log's public key (note verifier key) to publish; proofs verify with it alone",
		Example: "  gatehouse audit public-key > published-key.txt\n  gatehouse audit public-key --json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withDeps(cmd, func(d *bootstrap.Deps) error {
				k, err := d.Sequencer.Signer().PublicKey(cmd.Context())
				if err != nil {
					return err
				}
				if jsonFlag(cmd) {
					return writeJSON(cmd.OutOrStdout(), map[string]string{"public_key": k})
				}
				fmt.Fprintln(cmd.OutOrStdout(), k)
				return nil
			})
		},
	}
	cmd.AddCommand(verify, publicKey, newAuditProve(), newAuditVerifyProof())
	return cmd
}

// auditVerifyResult is `gatehouse audit verify --json`'s answer.
type auditVerifyResult struct {
	OK          bool   `json:"ok"`
	Size        int64  `json:"checkpoint_size"`
	Root        string `json:"root,omitempty"` // base64
	Events      int64  `json:"events"`
	Pruned      int64  `json:"pruned"`
	Checkpoints int64  `json:"checkpoints"`
	BrokenAt    int64  `json:"broken_at_seq,omitempty"`
	Reason      string `json:"reason,omitempty"`
}

// printVerify writes the outcome of audit.Verify; a broken log is an error.
func printVerify(cmd *cobra.Command, r audit.Report, err error) error {
	var broken *audit.BrokenLinkError
	if err != nil && !errors.As(err, &broken) {
		return err
	}
	out := cmd.OutOrStdout()
	res := auditVerifyResult{OK: err == nil, Size: r.Size, Events: r.Events, Pruned: r.Pruned, Checkpoints: r.Checkpoints}
	if broken != nil {
		res.BrokenAt, res.Reason = broken.Seq, broken.Reason
	} else {
		res.Root = base64.StdEncoding.EncodeToString(r.Root[:])
	}
	switch {
	case jsonFlag(cmd):
		if err := writeJSON(out, res); err != nil {
			return err
		}
	case broken != nil:
		fmt.Fprintf(out, "BROKEN at event %d: %s\n", broken.Seq, broken.Reason)
	default:
		fmt.Fprintf(out, "ok: checkpoint %d (root %s) verified: %d events checked, %d past retention, %d checkpoints\n",
			r.Size, res.Root, r.Events, r.Pruned, r.Checkpoints)
	}
	if broken != nil {
		return errors.New("audit log verification failed")
	}
	return nil
}

// verifyProgress writes "verified N/TOTAL leaves" at most once a second,
// and the last one.
func verifyProgress(w io.Writer) func(done, total int64) {
	var last time.Time
	return func(done, total int64) {
		if now := time.Now(); now.Sub(last) >= time.Second || done >= total {
			last = now
			fmt.Fprintf(w, "verified %d/%d leaves\n", done, total)
		}
	}
}

func newAuditProve() *cobra.Command {
	var seq, size, from, to int64
	cmd := &cobra.Command{
		Use:     "prove (--seq N [--size M] | --from A [--to B])",
		Short:   "Print an inclusion proof of event N, or a consistency proof from checkpoint A to B, as JSON",
		Example: "  gatehouse audit prove --seq 42\n  gatehouse audit prove --from 1000 --to 2000 > consistency.json",
		Args:    cobra.NoArgs,
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
		Example: "  gatehouse audit verify-proof --key @published-key.txt proof.json\n  curl -s URL | gatehouse audit verify-proof --key KEY --json -",
		Args:    cobra.ExactArgs(1),
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
			if jsonFlag(cmd) {
				res := map[string]any{"ok": err == nil, "message": msg}
				if err != nil {
					res["message"] = err.Error()
				}
				if jerr := writeJSON(cmd.OutOrStdout(), res); jerr != nil {
					return jerr
				}
				if err != nil {
					return errors.New("proof does not verify")
				}
				return nil
			}
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
	cmd := &cobra.Command{Use: "keys", Short: "Data-key operations",
		Example: "  gatehouse keys list\n  gatehouse keys rotate --json"}
	cmd.AddCommand(&cobra.Command{
		Use:     "list",
		Short:   "List data keys and their states",
		Example: "  gatehouse keys list\n  gatehouse keys list --json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withDeps(cmd, func(d *bootstrap.Deps) error {
				keys, err := d.Store.ListDataKeys(cmd.Context())
				if err != nil {
					return err
				}
				if jsonFlag(cmd) {
					out := make([]map[string]any, 0, len(keys))
					for _, k := range keys {
						out = append(out, map[string]any{"id": k.ID, "state": k.State,
							"created_at": k.CreatedAt.UTC(), "kek_version": k.KEKVersion})
					}
					return writeJSON(cmd.OutOrStdout(), map[string]any{"keys": out})
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
		Use:     "rotate",
		Short:   "Make a new primary data key (the old one stays decrypt-only)",
		Example: "  gatehouse keys rotate",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withDeps(cmd, func(d *bootstrap.Deps) error {
				k, err := d.Keyring.Rotate(cmd.Context())
				if err != nil {
					return err
				}
				if _, err := d.Audit.Record(cmd.Context(), audit.Event{Actor: "cli:" + currentUser(), Action: "keys.rotate", Target: k.ID}); err != nil {
					return err
				}
				if jsonFlag(cmd) {
					return writeJSON(cmd.OutOrStdout(), map[string]string{"primary": k.ID})
				}
				fmt.Fprintf(cmd.OutOrStdout(), "new primary data key %s\n", k.ID)
				return nil
			})
		},
	})
	return cmd
}

// jsonFlag reports whether the command runs with --json (a flag of the root
// command, so every command has it).
func jsonFlag(cmd *cobra.Command) bool {
	v, _ := cmd.Flags().GetBool("json")
	return v
}

// writeJSON writes v as indented JSON and a newline.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
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
