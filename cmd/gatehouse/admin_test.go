package main

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatehouse-dev/gatehouse/shared/store"
	"github.com/gatehouse-dev/gatehouse/shared/store/sqlite"
)

// Every command's help shows an example, and every command accepts --json.
func TestEveryCommandHasExampleAndJSON(t *testing.T) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Name() == "help" || c.Name() == "completion" {
			return
		}
		if strings.TrimSpace(c.Example) == "" {
			t.Errorf("%q has no Example", c.CommandPath())
		}
		c.InitDefaultHelpFlag()
		if c.Flag("json") == nil {
			t.Errorf("%q has no --json flag", c.CommandPath())
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(newRoot())
}

// startServeWithToken runs `gatehouse serve` in a temporary directory and
// returns its base URL, data directory and the admin token it printed.
func startServeWithToken(t *testing.T) (base, dir, token string) {
	t.Helper()
	dir = t.TempDir()
	t.Setenv("GATEHOUSE_DATA_DIR", dir)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- serve(ctx, ln, out, true) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	base = "http://" + ln.Addr().String()
	for range 100 {
		if resp, err := http.Get(base + "/auth/healthz"); err == nil {
			resp.Body.Close()
			var banner serveBanner
			if err := json.Unmarshal([]byte(out.String()), &banner); err != nil || banner.AdminToken == "" {
				t.Fatalf("serve --json banner %q: %v", out.String(), err)
			}
			return base, dir, banner.AdminToken
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("serve did not start")
	return
}

// The admin commands call the admin API of a running server with the
// local admin token: searching, disabling and transferring an
// organization's ownership work, are audited as the local operator with
// the reason, and a call without a reason or with a wrong token is refused.
//
// Controls: AUTHZ-2, AUTHZ-4, AUDIT-1
func TestAdminCommands(t *testing.T) {
	base, dir, token := startServeWithToken(t)
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(dir, "gatehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Now()
	for _, u := range []string{"alice", "bob"} {
		if err := db.CreateUser(ctx, store.User{ID: u, Email: u + "@example.com", EmailVerifiedAt: now, CreatedAt: now, UpdatedAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.CreateOrg(ctx, store.Org{ID: "org-1", Name: "Acme", CreatedAt: now}, "alice"); err != nil {
		t.Fatal(err)
	}
	if err := db.AddMember(ctx, store.Member{OrgID: "org-1", UserID: "bob", Role: "viewer", CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	url := "--url=" + base + "/auth"
	t.Setenv("GATEHOUSE_ADMIN_TOKEN", "wrong")
	if out, err := run(t, "admin", url, "users", "search", "--reason", "ticket 1"); err == nil || !strings.Contains(err.Error(), "operator_unauthenticated") {
		t.Fatalf("wrong token: %v\n%s", err, out)
	}
	t.Setenv("GATEHOUSE_ADMIN_TOKEN", token)
	if out, err := run(t, "admin", url, "users", "search"); err == nil || !strings.Contains(err.Error(), "--reason is required") {
		t.Fatalf("no reason: %v\n%s", err, out)
	}
	out, err := run(t, "admin", url, "users", "search", "--email", "ALI", "--reason", "ticket 1", "--json")
	var page struct {
		Users []struct{ ID, Email string } `json:"users"`
	}
	if err != nil || json.Unmarshal([]byte(out), &page) != nil || len(page.Users) != 1 || page.Users[0].ID != "alice" {
		t.Fatalf("search --json: %v\n%s", err, out)
	}
	if out, err := run(t, "admin", url, "users", "disable", "bob", "--reason", "ticket 2"); err != nil || !strings.Contains(out, "bob is disabled") {
		t.Fatalf("disable: %v\n%s", err, out)
	}
	if out, err := run(t, "admin", url, "users", "get", "bob", "--reason", "ticket 2"); err != nil || !strings.Contains(out, "disabled") {
		t.Fatalf("get: %v\n%s", err, out)
	}
	if out, err := run(t, "admin", url, "orgs", "transfer-owner", "org-1", "nobody", "--reason", "ticket 3"); err == nil || !strings.Contains(err.Error(), "not_member") {
		t.Fatalf("transfer to a non-member: %v\n%s", err, out)
	}
	if out, err := run(t, "admin", url, "orgs", "transfer-owner", "org-1", "bob", "--reason", "owner left; ticket 42"); err != nil || !strings.Contains(out, "bob now owns org-1") {
		t.Fatalf("transfer: %v\n%s", err, out)
	}
	for user, role := range map[string]string{"bob": "owner", "alice": "admin"} {
		if m, err := db.Member(ctx, "org-1", user); err != nil || m.Role != role {
			t.Fatalf("%s: %+v, %v; want %s", user, m, err, role)
		}
	}
	dead := store.EventDelivery{ID: "dlv_1", EventID: "evt_1", EventType: "com.gatehouse.user.created.v1",
		Endpoint: "https://saas.example.com/hooks", Body: "{}", CreatedAt: now, NextAttemptAt: now}
	if err := db.EnqueueEventDelivery(ctx, dead); err != nil {
		t.Fatal(err)
	}
	if _, err := db.LeaseEventDelivery(ctx, "dlv_1", now, now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := db.FinishEventDelivery(ctx, "dlv_1", 1, store.DeliveryResult{State: store.DeliveryDead, At: now, Error: "endpoint answered 500"}); err != nil {
		t.Fatal(err)
	}
	if out, err := run(t, "admin", url, "events", "deliveries", "--state", "dead", "--reason", "ticket 5"); err != nil ||
		!strings.Contains(out, "dlv_1") || !strings.Contains(out, "endpoint answered 500") {
		t.Fatalf("events deliveries: %v\n%s", err, out)
	}
	if out, err := run(t, "admin", url, "events", "redeliver", "dlv_1", "--reason", "endpoint fixed; ticket 5"); err != nil || !strings.Contains(out, "dlv_1 is pending again") {
		t.Fatalf("events redeliver: %v\n%s", err, out)
	}
	if d, err := db.EventDelivery(ctx, "dlv_1"); err != nil || d.State != store.DeliveryPending || d.Attempts != 0 {
		t.Fatalf("after redeliver: %+v, %v", d, err)
	}
	// Any command integrates what was recorded when it ends (keys list
	// here), so audit verify has leaves to walk and report progress on;
	// run merges stderr (the progress line) and stdout (the JSON result).
	if out, err := run(t, "keys", "list"); err != nil {
		t.Fatalf("keys list: %v\n%s", err, out)
	}
	out, err = run(t, "audit", "verify", "--json")
	progress, result, _ := strings.Cut(out, "\n{")
	var res auditVerifyResult
	if err != nil || !strings.HasPrefix(progress, "verified ") || json.Unmarshal([]byte("{"+result), &res) != nil ||
		!res.OK || res.Events < 3 {
		t.Fatalf("audit verify --json: %v\n%s", err, out)
	}

	evs, err := db.OrgAuditEvents(ctx, "org-1", 0, 10)
	if err != nil || len(evs) != 1 || evs[0].Action != "org.owner.transfer" || evs[0].Actor != "operator:local-admin" ||
		!strings.Contains(evs[0].Metadata, "ticket 42") {
		t.Fatalf("audit trail: %+v, %v", evs, err)
	}
}

func TestVersion(t *testing.T) {
	out, err := run(t, "version", "--json")
	var v versionInfo
	if err != nil || json.Unmarshal([]byte(out), &v) != nil || !strings.HasPrefix(v.Go, "go") || v.Platform == "" {
		t.Fatalf("version --json: %v\n%s", err, out)
	}
	if out, err := run(t, "version"); err != nil || !strings.HasPrefix(out, "gatehouse ") {
		t.Fatalf("version: %v\n%s", err, out)
	}
}
