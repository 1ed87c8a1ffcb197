package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

func newAdminEvents(f *adminFlags) *cobra.Command {
	cmd := &cobra.Command{Use: "events", Short: "List event webhook deliveries; send a dead one again",
		Example: "  gatehouse admin events deliveries --state dead --reason \"endpoint outage, ticket 50\""}
	var state, after string
	var limit int
	list := adminOp{use: "deliveries", short: "List event webhook deliveries, by state (pending, delivered, dead), in pages",
		example: "  gatehouse admin events deliveries --state dead --reason \"ticket 50\"\n  gatehouse admin events deliveries --json --reason \"ticket 50\"",
		method:  "GET", path: func([]string) string { return "/event-deliveries" },
		query: func() url.Values { return pageValues(url.Values{"state": {state}}, after, limit) },
		show:  showDeliveries}.command(f)
	list.Flags().StringVar(&state, "state", "", "pending, delivered or dead (default: every state)")
	list.Flags().StringVar(&after, "after", "", "the next_after of the previous page")
	list.Flags().IntVar(&limit, "limit", 0, "page size, 1-200 (default 50)")
	redeliver := adminOp{use: "redeliver DELIVERY", args: 1,
		short:   "Make a dead (or delivered) delivery pending again; the next outbox run sends it",
		example: "  gatehouse admin events redeliver dlv_0005f2c3a1b2c3d4e5f6a7b8c9d0e1f2 --reason \"endpoint fixed, ticket 51\"",
		method:  "POST", path: func(a []string) string { return "/event-deliveries/" + url.PathEscape(a[0]) + "/redeliver" },
		done: doneFmt("%s is pending again; the rotate function's next outbox task sends it")}.command(f)
	cmd.AddCommand(list, redeliver)
	return cmd
}

func showDeliveries(w io.Writer, raw []byte) error {
	var page struct {
		Deliveries []struct {
			ID        string `json:"id"`
			EventType string `json:"event_type"`
			Endpoint  string `json:"endpoint"`
			State     string `json:"state"`
			Attempts  int    `json:"attempts"`
			LastError string `json:"last_error"`
		} `json:"deliveries"`
		NextAfter string `json:"next_after"`
	}
	if err := json.Unmarshal(raw, &page); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTYPE\tENDPOINT\tSTATE\tATTEMPTS\tLAST ERROR")
	for _, d := range page.Deliveries {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", d.ID, d.EventType, d.Endpoint, d.State, d.Attempts, d.LastError)
	}
	if page.NextAfter != "" {
		fmt.Fprintf(tw, "(more: --after %s)\n", page.NextAfter)
	}
	return tw.Flush()
}
