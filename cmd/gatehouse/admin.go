package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

func newAdmin() *cobra.Command {
	var f adminFlags
	cmd := &cobra.Command{
		Use:   "admin",
		Short: "Operate on users, organizations and event deliveries through the admin API",
		Long: `Admin calls the admin API of a deployment (the Auth function's /admin routes):
the commands hold no logic of their own, so what they do, check and audit is
exactly what the API does. Every call needs --reason, recorded in the audit
event with the operator's identity.

Credentials: GATEHOUSE_ADMIN_TOKEN, if set, is sent as is (the local admin
token gatehouse serve prints). Otherwise a Google ID token for --audience
(default: --url + "/admin") is minted from Application Default Credentials,
which must be, or impersonate, a service account listed in the deployment's
GATEHOUSE_ADMIN_ACCOUNTS:
  gcloud auth application-default login --impersonate-service-account=SA`,
		Example: `  export GATEHOUSE_ADMIN_TOKEN=...   # printed by gatehouse serve
  gatehouse admin users search --email ann@ --reason "ticket 42"
  gatehouse admin --url https://id.example.com/auth users disable USER_ID --reason "account takeover, ticket 43"`,
	}
	def := os.Getenv("GATEHOUSE_ADMIN_URL")
	if def == "" {
		def = defaultAdminURL
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&f.url, "url", def, "the Auth function's URL (env GATEHOUSE_ADMIN_URL)")
	pf.StringVar(&f.audience, "audience", os.Getenv("GATEHOUSE_ADMIN_AUDIENCE"), "ID token audience (env GATEHOUSE_ADMIN_AUDIENCE; default --url + \"/admin\")")
	pf.StringVar(&f.reason, "reason", "", "why you make this call (required; audited)")
	cmd.AddCommand(newAdminUsers(&f), newAdminOrgs(&f), newAdminEvents(&f))
	return cmd
}

// adminOp is one admin command: a route and how to show its answer.
type adminOp struct {
	use, short, example string
	args                int
	method              string
	path                func(args []string) string
	query               func() url.Values                   // nil: none
	body                func(args []string) any             // nil: none
	show                func(w io.Writer, raw []byte) error // nil: print done
	done                func(args []string) string
}

// command builds op's cobra command.
func (op adminOp) command(f *adminFlags) *cobra.Command {
	return &cobra.Command{
		Use: op.use, Short: op.short, Example: op.example, Args: cobra.ExactArgs(op.args),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newAdminClient(cmd.Context(), *f)
			if err != nil {
				return err
			}
			var q url.Values
			if op.query != nil {
				q = op.query()
			}
			var body any
			if op.body != nil {
				body = op.body(args)
			}
			raw, err := c.do(cmd.Context(), op.method, op.path(args), q, body)
			if err != nil {
				return err
			}
			out, asJSON := cmd.OutOrStdout(), jsonFlag(cmd)
			switch {
			case asJSON && len(bytes.TrimSpace(raw)) == 0:
				_, err = fmt.Fprintln(out, `{"status":"ok"}`)
			case asJSON:
				var buf bytes.Buffer
				if err = json.Indent(&buf, raw, "", "  "); err == nil {
					_, err = fmt.Fprintln(out, buf.String())
				}
			case op.show != nil:
				err = op.show(out, raw)
			default:
				_, err = fmt.Fprintln(out, op.done(args))
			}
			return err
		},
	}
}

func newAdminUsers(f *adminFlags) *cobra.Command {
	cmd := &cobra.Command{Use: "users", Short: "Search, read and act on users",
		Example: "  gatehouse admin users search --email ann@example.com --reason \"ticket 42\""}
	var email, id, after string
	var limit int
	search := adminOp{use: "search", short: "Search users by e-mail prefix or id (no flag: every user, in pages)",
		example: "  gatehouse admin users search --email ann@ --reason \"ticket 42\"\n  gatehouse admin users search --id USER_ID --json --reason \"ticket 42\"",
		method:  "GET", path: func([]string) string { return "/users" },
		query: func() url.Values {
			return pageValues(url.Values{"email": {email}, "id": {id}}, after, limit)
		},
		show: showUsers}.command(f)
	search.Flags().StringVar(&email, "email", "", "e-mail prefix")
	search.Flags().StringVar(&id, "id", "", "user id")
	search.Flags().StringVar(&after, "after", "", "the next_after of the previous page")
	search.Flags().IntVar(&limit, "limit", 0, "page size, 1-200 (default 50)")
	user := func(suffix string) func([]string) string {
		return func(a []string) string { return "/users/" + url.PathEscape(a[0]) + suffix }
	}
	cmd.AddCommand(search,
		adminOp{use: "get USER", short: "Read a user: factors (counts), sessions, identities, organizations", args: 1,
			example: "  gatehouse admin users get USER_ID --reason \"ticket 42\"",
			method:  "GET", path: user(""), show: showUser}.command(f),
		adminOp{use: "disable USER", short: "Disable a user: every session ends and sign-in is refused", args: 1,
			example: "  gatehouse admin users disable USER_ID --reason \"account takeover, ticket 43\"",
			method:  "POST", path: user("/disable"), done: doneFmt("%s is disabled; every session ended")}.command(f),
		adminOp{use: "enable USER", short: "Enable a disabled user", args: 1,
			example: "  gatehouse admin users enable USER_ID --reason \"ticket 43 resolved\"",
			method:  "POST", path: user("/enable"), done: doneFmt("%s is enabled")}.command(f),
		adminOp{use: "signout USER", short: "End every session of a user", args: 1,
			example: "  gatehouse admin users signout USER_ID --reason \"lost laptop, ticket 44\"",
			method:  "POST", path: user("/sessions/revoke"), done: doneFmt("every session of %s ended")}.command(f),
		adminOp{use: "reset-mfa USER", short: "Remove a user's TOTP, passkeys and recovery codes (the user is told)", args: 1,
			example: "  gatehouse admin users reset-mfa USER_ID --reason \"lost phone, identity checked, ticket 45\"",
			method:  "POST", path: user("/mfa/reset"), done: doneFmt("every second factor of %s removed; sessions ended; user notified")}.command(f),
		adminOp{use: "resend-verification USER", short: "Send a user whose address is unproven a new verification link", args: 1,
			example: "  gatehouse admin users resend-verification USER_ID --reason \"ticket 46\"",
			method:  "POST", path: user("/verification"), done: doneFmt("verification link sent to %s")}.command(f),
		adminOp{use: "delete USER", short: "Delete an account, as the user's own deletion does", args: 1,
			example: "  gatehouse admin users delete USER_ID --reason \"erasure request, ticket 47\"",
			method:  "DELETE", path: user(""), done: doneFmt("%s deleted")}.command(f),
	)
	return cmd
}

func newAdminOrgs(f *adminFlags) *cobra.Command {
	cmd := &cobra.Command{Use: "orgs", Short: "List and read organizations; transfer ownership",
		Example: "  gatehouse admin orgs list --reason \"audit review\""}
	var after string
	var limit int
	list := adminOp{use: "list", short: "List organizations in id order, in pages",
		example: "  gatehouse admin orgs list --limit 100 --reason \"audit review\"",
		method:  "GET", path: func([]string) string { return "/orgs" },
		query: func() url.Values { return pageValues(url.Values{}, after, limit) },
		show:  showOrgs}.command(f)
	list.Flags().StringVar(&after, "after", "", "the next_after of the previous page")
	list.Flags().IntVar(&limit, "limit", 0, "page size, 1-200 (default 50)")
	transfer := adminOp{use: "transfer-owner ORG USER", args: 2,
		short:   "Make USER, already a member, the owner of ORG (ownership recovery)",
		example: "  gatehouse admin orgs transfer-owner ORG_ID USER_ID --reason \"owner left the company; ticket 48\"",
		method:  "POST", path: func(a []string) string { return "/orgs/" + url.PathEscape(a[0]) + "/owner" },
		body: func(a []string) any { return map[string]string{"user_id": a[1]} },
		done: func(a []string) string {
			return fmt.Sprintf("%s now owns %s; the previous owner is an admin", a[1], a[0])
		},
	}.command(f)
	transfer.Long = `Transfer-owner is ownership recovery for an organization whose owner cannot
act (left the company, lost every factor). USER must already be a member; the
old owner becomes an admin. The change is one transaction with an
org.owner.transfer audit event naming the operator and the reason, so it is
in the organization's trail like a transfer through the API. Verify the
request out of band first.`
	cmd.AddCommand(list,
		adminOp{use: "get ORG", short: "Read an organization, its owner and members", args: 1,
			example: "  gatehouse admin orgs get ORG_ID --json --reason \"ticket 49\"",
			method:  "GET", path: func(a []string) string { return "/orgs/" + url.PathEscape(a[0]) }, show: showOrg}.command(f),
		transfer)
	return cmd
}

func pageValues(q url.Values, after string, limit int) url.Values {
	if after != "" {
		q.Set("after", after)
	}
	if limit != 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	for k, v := range q {
		if len(v) == 1 && v[0] == "" {
			delete(q, k)
		}
	}
	return q
}

func doneFmt(format string) func([]string) string {
	return func(a []string) string { return fmt.Sprintf(format, a[0]) }
}

type cliUser struct {
	ID              string  `json:"id"`
	Email           string  `json:"email"`
	Name            string  `json:"name"`
	EmailVerifiedAt *string `json:"email_verified_at"`
	DisabledAt      *string `json:"disabled_at"`
	CreatedAt       string  `json:"created_at"`
	MFA             struct {
		TOTP     bool `json:"totp"`
		Passkeys int  `json:"webauthn_credentials"`
		Recovery int  `json:"recovery_codes_left"`
	} `json:"mfa"`
	ActiveSessions int `json:"active_sessions"`
	Orgs           []struct {
		ID, Role string
	} `json:"orgs"`
}

func (u cliUser) state() string {
	switch {
	case u.DisabledAt != nil:
		return "disabled"
	case u.EmailVerifiedAt == nil:
		return "unverified"
	}
	return "active"
}

func showUsers(w io.Writer, raw []byte) error {
	var page struct {
		Users     []cliUser `json:"users"`
		NextAfter string    `json:"next_after"`
	}
	if err := json.Unmarshal(raw, &page); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tEMAIL\tSTATE\tCREATED")
	for _, u := range page.Users {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", u.ID, u.Email, u.state(), u.CreatedAt)
	}
	if page.NextAfter != "" {
		fmt.Fprintf(tw, "(more: --after %s)\n", page.NextAfter)
	}
	return tw.Flush()
}

func showUser(w io.Writer, raw []byte) error {
	var u cliUser
	if err := json.Unmarshal(raw, &u); err != nil {
		return err
	}
	fmt.Fprintf(w, "%s <%s> %s, created %s\n", u.ID, u.Email, u.state(), u.CreatedAt)
	fmt.Fprintf(w, "second factors: totp=%t passkeys=%d recovery codes left=%d\n", u.MFA.TOTP, u.MFA.Passkeys, u.MFA.Recovery)
	fmt.Fprintf(w, "active sessions: %d\n", u.ActiveSessions)
	for _, o := range u.Orgs {
		fmt.Fprintf(w, "member of %s as %s\n", o.ID, o.Role)
	}
	return nil
}

func showOrgs(w io.Writer, raw []byte) error {
	var page struct {
		Orgs []struct {
			ID        string `json:"id"`
			Name      string `json:"name"`
			CreatedAt string `json:"created_at"`
		} `json:"orgs"`
		NextAfter string `json:"next_after"`
	}
	if err := json.Unmarshal(raw, &page); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tCREATED")
	for _, o := range page.Orgs {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", o.ID, o.Name, o.CreatedAt)
	}
	if page.NextAfter != "" {
		fmt.Fprintf(tw, "(more: --after %s)\n", page.NextAfter)
	}
	return tw.Flush()
}

func showOrg(w io.Writer, raw []byte) error {
	var o struct {
		ID      string `json:"id"`
		Name    string `json:"name"`
		Owner   string `json:"owner"`
		Members []struct {
			UserID string `json:"user_id"`
			Role   string `json:"role"`
		} `json:"members"`
	}
	if err := json.Unmarshal(raw, &o); err != nil {
		return err
	}
	fmt.Fprintf(w, "%s %q, owner %s\n", o.ID, o.Name, o.Owner)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "MEMBER\tROLE")
	for _, m := range o.Members {
		fmt.Fprintf(tw, "%s\t%s\n", m.UserID, m.Role)
	}
	return tw.Flush()
}
