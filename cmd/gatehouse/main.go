// Command gatehouse is the operator CLI and the local server: `serve` mounts
// all four functions on one port on the embedded defaults; `migrate`,
// `audit verify` and `keys` operate on whichever database and key the
// GATEHOUSE_* variables name.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newRoot().ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "gatehouse:", err)
		if errors.Is(err, errRed) {
			os.Exit(3) // evidence: the report is written, a control is red
		}
		os.Exit(1)
	}
}

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:           "gatehouse",
		Short:         "Gatehouse: sign-in, sessions, OAuth connections, webhooks and key rotation for SaaS on Google Cloud",
		SilenceUsage:  true,
		SilenceErrors: true,
		Example: `  gatehouse serve
  gatehouse admin users search --email ann@ --reason "ticket 42" --json
  gatehouse audit verify --json
  gatehouse version`,
	}
	root.PersistentFlags().Bool("json", false, "print the result as JSON")
	root.AddCommand(newServe(), newMigrate(), newAudit(), newKeys(), newRotate(), newAdmin(), newBench(), newVersion(), newEvidence())
	return root
}
