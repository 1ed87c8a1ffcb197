package main

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatehouse-dev/gatehouse/functions/rotate"
	"github.com/gatehouse-dev/gatehouse/shared/audit"
	"github.com/gatehouse-dev/gatehouse/shared/bootstrap"
	"github.com/gatehouse-dev/gatehouse/shared/logging"
)

func newRotate() *cobra.Command {
	var m rotate.Message
	cmd := &cobra.Command{
		Use:   "rotate",
		Short: "Run key rotation, re-encryption, purges and retention now",
		Long: `Rotate runs what the scheduled Rotate function runs, on whichever database and
key the GATEHOUSE_* variables name: a new primary data key and token-signing key
when due, re-encryption of every sealed value under old data keys, re-wrapping
of data keys under the current KMS key version, purges and audit retention.
--reason suspected-exposure rotates everything at once and revokes sessions
(of one organization with --org). Progress goes to stderr, the report to stdout.`,
		Example: `  gatehouse rotate --dry-run
  gatehouse rotate --task reencrypt --task rewrap --json
  gatehouse rotate --reason suspected-exposure --org ORG_ID`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runRotate(cmd, m, jsonFlag(cmd))
		},
	}
	fl := cmd.Flags()
	fl.StringSliceVar(&m.Tasks, "task", nil, "task to run (repeatable; default all): data-keys, signing-keys, sessions, reencrypt, rewrap, purge, retention, domains, outbox")
	fl.StringVar(&m.Reason, "reason", rotate.ReasonSchedule, "schedule, suspected-exposure, or events (send due events only)")
	fl.BoolVar(&m.DryRun, "dry-run", false, "report what would change, change nothing")
	fl.StringVar(&m.OrgID, "org", "", "with suspected-exposure: revoke only this organization's sessions")
	cmd.AddCommand(newRotateCheckpoint())
	return cmd
}

func runRotate(cmd *cobra.Command, m rotate.Message, asJSON bool) error {
	if err := m.Validate(); err != nil {
		return err
	}
	d, l, err := bootstrap.FromEnv(cmd.Context())
	if err != nil {
		return err
	}
	defer d.Close()
	// Logs (audit lines included) to stderr, so stdout is the report alone.
	d.Logger = logging.New(cmd.ErrOrStderr(), logging.Options{Level: d.Config.LogLevel, ProjectID: d.Config.ProjectID})
	d.Audit = audit.New(d.Store, d.Logger, d.Now)
	cfg := rotate.LoadConfig(l)
	if err := l.Err(); err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	r, err := rotate.New(d, cfg)
	if err != nil {
		return err
	}
	defer r.Close()
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return err
	}
	rep, err := r.Run(cmd.Context(), rotate.Request{ID: "cli:" + hex.EncodeToString(b[:]), Message: m,
		Actor: "cli:" + currentUser(), Progress: progressPrinter(cmd.ErrOrStderr())})
	if errors.Is(err, rotate.ErrBusy) {
		return fmt.Errorf("another rotation run is in progress, try again later: %w", err)
	}
	if len(rep.Tasks) > 0 {
		if perr := printReport(cmd.OutOrStdout(), rep, asJSON); perr != nil {
			return perr
		}
	}
	return err
}

// progressPrinter writes at most one progress line a second per task, and
// the last one.
func progressPrinter(w io.Writer) func(rotate.Progress) {
	last := map[string]time.Time{}
	return func(p rotate.Progress) {
		if now := time.Now(); p.Done >= p.Total || now.Sub(last[p.Task]) >= time.Second {
			last[p.Task] = now
			fmt.Fprintf(w, "%s: %d/%d\n", p.Task, p.Done, p.Total)
		}
	}
}

func printReport(w io.Writer, rep rotate.Report, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	fmt.Fprintf(w, "run %s (%s", rep.RunID, rep.Reason)
	if rep.DryRun {
		fmt.Fprint(w, ", dry run")
	}
	fmt.Fprintf(w, "): %d ms, %d KMS calls\n", rep.DurationMS, rep.KMSCalls)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TASK\tSTATUS\tKMS\tMS\tCOUNTS\tNOTE")
	for _, t := range rep.Tasks {
		note := t.Note
		if t.Error != "" {
			note = "error: " + t.Error
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\n", t.Task, t.Status, t.KMSCalls, t.DurationMS, formatCounts(t.Counts), note)
	}
	return tw.Flush()
}

func formatCounts(c map[string]int64) string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, c[k])
	}
	return strings.Join(parts, " ")
}

func newRotateCheckpoint() *cobra.Command {
	return &cobra.Command{
		Use:     "checkpoint",
		Short:   "Verify the signature of the audit retention checkpoint",
		Example: "  gatehouse rotate checkpoint\n  gatehouse rotate checkpoint --json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withDeps(cmd, func(d *bootstrap.Deps) error {
				cp, err := rotate.VerifyCheckpoint(cmd.Context(), d.Store, d.Keyring)
				if jsonFlag(cmd) && (err == nil || errors.Is(err, rotate.ErrCheckpointSignature)) {
					res := map[string]any{"ok": err == nil, "seq": cp.Seq}
					if cp.Seq > 0 {
						res["time"], res["hash"] = cp.Time.UTC(), fmt.Sprintf("%x", cp.Hash)
					}
					if jerr := writeJSON(cmd.OutOrStdout(), res); jerr != nil {
						return jerr
					}
					return err
				}
				switch {
				case errors.Is(err, rotate.ErrCheckpointSignature):
					fmt.Fprintf(cmd.OutOrStdout(), "FORGED OR ALTERED checkpoint at event %d\n", cp.Seq)
					return err
				case err != nil:
					return err
				case cp.Seq == 0:
					fmt.Fprintln(cmd.OutOrStdout(), "no checkpoint: no audit event was ever deleted")
				default:
					fmt.Fprintf(cmd.OutOrStdout(), "ok: checkpoint at event %d (%s), hash %x, signature verified\n",
						cp.Seq, cp.Time.UTC().Format(time.RFC3339), cp.Hash)
				}
				return nil
			})
		},
	}
}
