package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/store"
	"github.com/gatehouse-dev/gatehouse/shared/store/sqlite"
)

// An operator recovers an organization whose owner cannot act: the
// transfer needs a member as the new owner, a reason and the operator's
// name, and is in the audit chain like any transfer.
//
// Controls: AUTHZ-1, AUTHZ-4, AUDIT-1
func TestOrgsTransferOwner(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("GATEHOUSE_DATA_DIR", dir)
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(dir, "gatehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if err := db.CreateOrg(ctx, store.Org{ID: "org-1", Name: "Acme", CreatedAt: now}, "alice"); err != nil {
		t.Fatal(err)
	}
	if err := db.AddMember(ctx, store.Member{OrgID: "org-1", UserID: "bob", Role: "viewer", CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	db.Close()

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"orgs", "transfer-owner", "org-1", "bob"}, "--reason and --operator are required"},
		{[]string{"orgs", "transfer-owner", "org-1", "bob", "--reason", "owner left"}, "--reason and --operator are required"},
		{[]string{"orgs", "transfer-owner", "org-1", "carol", "--reason", "r", "--operator", "ops"}, "not a member"},
		{[]string{"orgs", "transfer-owner", "org-9", "bob", "--reason", "r", "--operator", "ops"}, "no organization"},
		{[]string{"orgs", "transfer-owner", "org-1", "alice", "--reason", "r", "--operator", "ops"}, "already owns"},
	} {
		if out, err := run(t, tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Fatalf("%v: %v\n%s", tc.args, err, out)
		}
	}
	out, err := run(t, "orgs", "transfer-owner", "org-1", "bob", "--reason", "owner left; ticket 42", "--operator", "dana")
	if err != nil || !strings.Contains(out, "bob now owns org-1") {
		t.Fatalf("transfer: %v\n%s", err, out)
	}

	db, err = sqlite.Open(ctx, filepath.Join(dir, "gatehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for user, role := range map[string]string{"bob": "owner", "alice": "admin"} {
		if m, err := db.Member(ctx, "org-1", user); err != nil || m.Role != role {
			t.Fatalf("%s: %+v, %v; want %s", user, m, err, role)
		}
	}
	evs, err := db.OrgAuditEvents(ctx, "org-1", 0, 10)
	if err != nil || len(evs) != 1 || evs[0].Action != "org.owner.transfer" || evs[0].Actor != "operator:dana" ||
		!strings.Contains(string(evs[0].Metadata), "ticket 42") {
		t.Fatalf("audit trail: %+v, %v", evs, err)
	}
	if out, err := run(t, "audit", "verify"); err != nil {
		t.Fatalf("audit verify: %v\n%s", err, out)
	}
}
