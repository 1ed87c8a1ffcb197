package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gatehouse-dev/gatehouse/shared/audit"
	"github.com/gatehouse-dev/gatehouse/shared/bootstrap"
	"github.com/gatehouse-dev/gatehouse/shared/store"
)

func newOrgs() *cobra.Command {
	cmd := &cobra.Command{Use: "orgs", Short: "Organization operations for operators"}
	var reason, operator string
	transfer := &cobra.Command{
		Use:   "transfer-owner ORG USER",
		Short: "Make USER, already a member, the owner of ORG (ownership recovery)",
		Long: `Transfer-owner is ownership recovery for an organization whose owner cannot
act (left the company, lost every factor). USER must already be a member; the
old owner becomes an admin. The change is one transaction with an
org.owner.transfer audit event naming the operator and the reason, so it is
in the organization's trail like a transfer through the API. Verify the
request out of band first.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			orgID, to := args[0], args[1]
			if strings.TrimSpace(reason) == "" || strings.TrimSpace(operator) == "" {
				return errors.New("--reason and --operator are required: the audit event records both")
			}
			return withDeps(cmd, func(d *bootstrap.Deps) error {
				ctx := cmd.Context()
				from, err := orgOwner(cmd, d.Store, orgID)
				if err != nil {
					return err
				}
				err = d.Store.Tx(ctx, func(tx store.Store) error {
					if err := tx.TransferOwnership(ctx, orgID, from, to, d.Now()); err != nil {
						return err
					}
					_, err := d.Audit.RecordTx(ctx, tx, audit.Event{Actor: "operator:" + operator, OrgID: orgID,
						Action: "org.owner.transfer", Target: "user:" + to,
						Metadata: map[string]any{"from": from, "via": "cli", "reason": reason}})
					return err
				})
				switch {
				case errors.Is(err, store.ErrNotFound):
					return fmt.Errorf("%s is not a member of %s: invite them first", to, orgID)
				case errors.Is(err, store.ErrConflict):
					return fmt.Errorf("%s already owns %s", to, orgID)
				case err != nil:
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s now owns %s; %s is an admin\n", to, orgID, from)
				return nil
			})
		},
	}
	transfer.Flags().StringVar(&reason, "reason", "", "why (recorded in the audit event; required)")
	transfer.Flags().StringVar(&operator, "operator", "", "who runs this (recorded as the actor; required)")
	cmd.AddCommand(transfer)
	return cmd
}

// orgOwner returns the user id of orgID's owner.
func orgOwner(cmd *cobra.Command, s store.Store, orgID string) (string, error) {
	if _, err := s.Org(cmd.Context(), orgID); errors.Is(err, store.ErrNotFound) {
		return "", fmt.Errorf("no organization %s", orgID)
	} else if err != nil {
		return "", err
	}
	after := ""
	for {
		ms, err := s.Members(cmd.Context(), orgID, after, 500)
		if err != nil {
			return "", err
		}
		for _, m := range ms {
			if m.Role == store.RoleOwner {
				return m.UserID, nil
			}
		}
		if len(ms) < 500 {
			return "", fmt.Errorf("organization %s has no owner", orgID)
		}
		after = ms[len(ms)-1].UserID
	}
}
