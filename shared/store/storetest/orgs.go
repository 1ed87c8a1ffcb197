package storetest

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/store"
)

// newOrg creates an organization owned by owner with the given other members.
func newOrg(t *testing.T, s store.Store, id, owner string, members map[string]string) {
	t.Helper()
	ctx := context.Background()
	if err := s.CreateOrg(ctx, store.Org{ID: id, Name: "Org " + id, CreatedAt: epoch}, owner); err != nil {
		t.Fatal(err)
	}
	for user, role := range members {
		if err := s.AddMember(ctx, store.Member{OrgID: id, UserID: user, Role: role, CreatedAt: epoch}); err != nil {
			t.Fatal(err)
		}
	}
}

// owners returns the owners of org.
func owners(t *testing.T, s store.Store, org string) []string {
	t.Helper()
	ms, err := s.Members(context.Background(), org, "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range ms {
		if m.Role == store.RoleOwner {
			out = append(out, m.UserID)
		}
	}
	return out
}

// Controls: AUTHZ-1, AUTHZ-3
func testOrgMembers(t *testing.T, open Opener) {
	s, ctx := open(t), context.Background()
	newOrg(t, s, "org-a", "alice", map[string]string{"bob": "admin", "carol": "viewer"})
	newOrg(t, s, "org-b", "dave", map[string]string{"bob": "operator"})
	if err := s.CreateOrg(ctx, store.Org{ID: "org-a", Name: "dup", CreatedAt: epoch}, "x"); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate org: err = %v, want ErrConflict", err)
	}
	later := epoch.Add(1000)
	for _, tc := range []struct {
		name string
		op   func() error
		want error
	}{
		{"add owner role", func() error {
			return s.AddMember(ctx, store.Member{OrgID: "org-a", UserID: "eve", Role: store.RoleOwner, CreatedAt: epoch})
		}, store.ErrOwner},
		{"add existing member", func() error {
			return s.AddMember(ctx, store.Member{OrgID: "org-a", UserID: "bob", Role: "viewer", CreatedAt: epoch})
		}, store.ErrConflict},
		{"add to unknown org", func() error {
			return s.AddMember(ctx, store.Member{OrgID: "org-x", UserID: "eve", Role: "viewer", CreatedAt: epoch})
		}, store.ErrNotFound},
		{"promote to owner", func() error { _, err := s.SetMemberRole(ctx, "org-a", "bob", store.RoleOwner, later); return err }, store.ErrOwner},
		{"demote owner", func() error { _, err := s.SetMemberRole(ctx, "org-a", "alice", "admin", later); return err }, store.ErrOwner},
		{"role of non-member", func() error { _, err := s.SetMemberRole(ctx, "org-b", "carol", "admin", later); return err }, store.ErrNotFound},
		{"remove owner", func() error { _, err := s.RemoveMember(ctx, "org-a", "alice"); return err }, store.ErrOwner},
		{"remove across orgs", func() error { _, err := s.RemoveMember(ctx, "org-b", "carol"); return err }, store.ErrNotFound},
		{"transfer from non-owner", func() error { return s.TransferOwnership(ctx, "org-a", "bob", "carol", later) }, store.ErrOwner},
		{"transfer to non-member", func() error { return s.TransferOwnership(ctx, "org-a", "alice", "dave", later) }, store.ErrNotFound},
		{"transfer to self", func() error { return s.TransferOwnership(ctx, "org-a", "alice", "alice", later) }, store.ErrConflict},
		{"transfer in other org", func() error { return s.TransferOwnership(ctx, "org-b", "alice", "bob", later) }, store.ErrOwner},
	} {
		if err := tc.op(); !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
	}
	if got := owners(t, s, "org-a"); !slices.Equal(got, []string{"alice"}) {
		t.Fatalf("after refused changes, owners of org-a = %v", got)
	}

	old, err := s.SetMemberRole(ctx, "org-a", "carol", "operator", later)
	if err != nil || old.Role != "viewer" {
		t.Fatalf("SetMemberRole = %+v, %v; want old role viewer", old, err)
	}
	if m, err := s.Member(ctx, "org-a", "carol"); err != nil || m.Role != "operator" || !m.UpdatedAt.Equal(later) {
		t.Fatalf("after SetMemberRole: %+v, %v", m, err)
	}
	if m, _ := s.Member(ctx, "org-b", "bob"); m.Role != "operator" {
		t.Fatalf("role change in org-a leaked into org-b: bob is %q there", m.Role)
	}
	if _, err := s.Member(ctx, "org-b", "carol"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("carol in org-b: err = %v, want ErrNotFound", err)
	}

	if err := s.TransferOwnership(ctx, "org-a", "alice", "bob", later); err != nil {
		t.Fatal(err)
	}
	if got := owners(t, s, "org-a"); !slices.Equal(got, []string{"bob"}) {
		t.Fatalf("after transfer, owners = %v, want [bob]", got)
	}
	if m, _ := s.Member(ctx, "org-a", "alice"); m.Role != "admin" {
		t.Fatalf("former owner's role = %q, want admin", m.Role)
	}
	if removed, err := s.RemoveMember(ctx, "org-a", "alice"); err != nil || removed.Role != "admin" {
		t.Fatalf("RemoveMember = %+v, %v", removed, err)
	}

	orgs, err := s.UserOrgs(ctx, "bob")
	if err != nil || len(orgs) != 2 || orgs[0].ID != "org-a" || orgs[0].Role != store.RoleOwner || orgs[1].Role != "operator" {
		t.Fatalf("UserOrgs(bob) = %+v, %v", orgs, err)
	}
}

func testOrgMembersPaging(t *testing.T, open Opener) {
	s, ctx := open(t), context.Background()
	members := map[string]string{}
	for i := range 7 {
		members[fmt.Sprintf("u%02d", i)] = "viewer"
	}
	newOrg(t, s, "org", "owner", members)
	newOrg(t, s, "other", "z-other", nil)
	var got []string
	after := ""
	for {
		page, err := s.Members(ctx, "org", after, 3)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		for _, m := range page {
			got = append(got, m.UserID)
		}
		after = page[len(page)-1].UserID
	}
	want := []string{"owner", "u00", "u01", "u02", "u03", "u04", "u05", "u06"}
	if !slices.Equal(got, want) {
		t.Fatalf("paged members = %v, want %v", got, want)
	}
}

// Controls: AUTHZ-1
func testOrgRoles(t *testing.T, open Opener) {
	s, ctx := open(t), context.Background()
	newOrg(t, s, "org-a", "alice", nil)
	newOrg(t, s, "org-b", "bob", nil)
	r := store.OrgRole{OrgID: "org-a", Name: "support", Permissions: []string{"read", "audit.read"}, CreatedAt: epoch}
	if err := s.CreateOrgRole(ctx, r); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateOrgRole(ctx, r); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate role: err = %v, want ErrConflict", err)
	}
	if err := s.CreateOrgRole(ctx, store.OrgRole{OrgID: "org-x", Name: "x", CreatedAt: epoch}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("role in unknown org: err = %v, want ErrNotFound", err)
	}
	got, err := s.OrgRole(ctx, "org-a", "support")
	if err != nil || !slices.Equal(got.Permissions, r.Permissions) || !got.CreatedAt.Equal(epoch) {
		t.Fatalf("OrgRole = %+v, %v", got, err)
	}
	if _, err := s.OrgRole(ctx, "org-b", "support"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("role read through another org: err = %v, want ErrNotFound", err)
	}
	if roles, err := s.OrgRoles(ctx, "org-b"); err != nil || len(roles) != 0 {
		t.Fatalf("OrgRoles(org-b) = %v, %v; want none", roles, err)
	}
	if roles, err := s.OrgRoles(ctx, "org-a"); err != nil || len(roles) != 1 {
		t.Fatalf("OrgRoles(org-a) = %v, %v; want one", roles, err)
	}
}

func testDeleteUserMemberships(t *testing.T, open Opener) {
	s, ctx := open(t), context.Background()
	newOrg(t, s, "org-a", "alice", map[string]string{"bob": "admin"})
	newOrg(t, s, "org-b", "carol", map[string]string{"bob": "viewer", "alice": "viewer"})
	if _, err := s.DeleteUserMemberships(ctx, "alice"); !errors.Is(err, store.ErrOwner) {
		t.Fatalf("deleting an owner's memberships: err = %v, want ErrOwner", err)
	}
	if _, err := s.Member(ctx, "org-b", "alice"); err != nil {
		t.Fatalf("refused deletion removed a membership: %v", err)
	}
	n, err := s.DeleteUserMemberships(ctx, "bob")
	if err != nil || n != 2 {
		t.Fatalf("DeleteUserMemberships(bob) = %d, %v; want 2", n, err)
	}
	if orgs, _ := s.UserOrgs(ctx, "bob"); len(orgs) != 0 {
		t.Fatalf("bob still in %v", orgs)
	}
}

// Many goroutines race to move, remove and demote the owner of one
// organization: exactly one transfer wins and the organization always ends
// with exactly one owner.
//
// Controls: AUTHZ-1
func testOrgOwnerRace(t *testing.T, open Opener) {
	s, ctx := open(t), context.Background()
	const n = 24
	members := map[string]string{}
	for i := range n {
		members[fmt.Sprintf("m%02d", i)] = "admin"
	}
	newOrg(t, s, "org", "owner", members)
	later := epoch.Add(1000)
	var wg sync.WaitGroup
	transfers := make([]error, n)
	for i := range n {
		to := fmt.Sprintf("m%02d", i)
		wg.Go(func() { transfers[i] = s.TransferOwnership(ctx, "org", "owner", to, later) })
		wg.Go(func() { s.RemoveMember(ctx, "org", "owner") })
		wg.Go(func() { s.SetMemberRole(ctx, "org", "owner", "viewer", later) })
		wg.Go(func() { s.SetMemberRole(ctx, "org", to, "operator", later) })
	}
	wg.Wait()
	exactlyOne(t, transfers, store.ErrOwner)
	if got := owners(t, s, "org"); len(got) != 1 || got[0] == "owner" {
		t.Fatalf("owners after the race = %v, want exactly one new owner", got)
	}
}

// Deleting an organization removes its members, roles, connections and
// SSO configuration, and nothing of another organization's.
//
// Controls: AUTHZ-3
func testDeleteOrg(t *testing.T, open Opener) {
	s, ctx := open(t), context.Background()
	newOrg(t, s, "org-a", "alice", map[string]string{"bob": "admin", "carol": "auditor"})
	newOrg(t, s, "org-b", "dave", map[string]string{"bob": "viewer"})
	for _, org := range []string{"org-a", "org-b"} {
		if err := s.CreateOrgRole(ctx, store.OrgRole{OrgID: org, Name: "auditor", Permissions: []string{"read"}, CreatedAt: epoch}); err != nil {
			t.Fatal(err)
		}
		for _, c := range []store.Connection{connFixture(org+"-c1", org, "github", "acct-1"), connFixture(org+"-c2", org, "slack", "acct-2")} {
			if err := s.CreateConnection(ctx, c); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.CreateOneTimeToken(ctx, store.OneTimeToken{Hash: sha256.Sum256([]byte("inv-" + org)), Purpose: "org_invitation",
			Subject: "x@example.com", Scope: org, CreatedAt: epoch, ExpiresAt: epoch.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if err := s.PutSSOConfig(ctx, store.SSOConfig{ID: "sso-" + org, OrgID: org, Issuer: "https://idp.example.com",
			ClientID: "cid", ClientSecret: connSealedLike("dk1", "secret"), UpdatedBy: "u", CreatedAt: epoch, UpdatedAt: epoch}); err != nil {
			t.Fatal(err)
		}
	}

	for _, tc := range []struct{ org, as string }{{"org-a", "bob"}, {"org-a", "dave"}, {"org-a", "nobody"}} {
		if _, err := s.DeleteOrg(ctx, tc.org, tc.as); !errors.Is(err, store.ErrOwner) {
			t.Fatalf("DeleteOrg(%s) as %s: err = %v, want ErrOwner", tc.org, tc.as, err)
		}
	}
	if _, err := s.DeleteOrg(ctx, "org-none", "alice"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("DeleteOrg of a missing org: err = %v, want ErrNotFound", err)
	}
	got, err := s.DeleteOrg(ctx, "org-a", "alice")
	if want := (store.OrgDeletion{Members: 3, Roles: 1, Connections: 2, Tokens: 1, SSO: true}); err != nil || got != want {
		t.Fatalf("DeleteOrg(org-a) = %+v, %v; want %+v", got, err, want)
	}
	if _, err := s.Org(ctx, "org-a"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("org-a still there: %v", err)
	}
	if ms, err := s.Members(ctx, "org-a", "", 100); err != nil || len(ms) != 0 {
		t.Fatalf("members of deleted org: %v, %v", ms, err)
	}
	if cs, err := s.ListConnections(ctx, "org-a"); err != nil || len(cs) != 0 {
		t.Fatalf("connections of deleted org: %d, %v", len(cs), err)
	}
	if _, err := s.SSOConfig(ctx, "org-a"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("sso of deleted org: %v", err)
	}
	if orgs, err := s.UserOrgs(ctx, "bob"); err != nil || len(orgs) != 1 || orgs[0].ID != "org-b" {
		t.Fatalf("bob's orgs after the deletion: %v, %v", orgs, err)
	}
	// The other organization is untouched.
	if ms, _ := s.Members(ctx, "org-b", "", 100); len(ms) != 2 {
		t.Fatalf("org-b members: %v", ms)
	}
	if roles, _ := s.OrgRoles(ctx, "org-b"); len(roles) != 1 {
		t.Fatalf("org-b roles: %v", roles)
	}
	if cs, _ := s.ListConnections(ctx, "org-b"); len(cs) != 2 {
		t.Fatalf("org-b connections: %d", len(cs))
	}
	if _, err := s.SSOConfig(ctx, "org-b"); err != nil {
		t.Fatalf("org-b sso: %v", err)
	}
	if toks, _ := s.PendingOneTimeTokens(ctx, "org_invitation", "org-b", epoch); len(toks) != 1 {
		t.Fatalf("org-b invitations: %d", len(toks))
	}
	if toks, _ := s.PendingOneTimeTokens(ctx, "org_invitation", "org-a", epoch); len(toks) != 0 {
		t.Fatalf("org-a invitations survived: %d", len(toks))
	}
	if _, err := s.DeleteOrg(ctx, "org-a", "alice"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second deletion: err = %v, want ErrNotFound", err)
	}
}

// The owner deleting the organization races transfers of its ownership:
// exactly one wins. If a transfer won, the organization is still there with
// one owner and the deletions were refused; if the deletion won, nothing of
// the organization is left.
//
// Controls: AUTHZ-1
func testDeleteOrgRace(t *testing.T, open Opener) {
	s, ctx := open(t), context.Background()
	const n = 12
	members := map[string]string{}
	for i := range n {
		members[fmt.Sprintf("m%02d", i)] = "admin"
	}
	newOrg(t, s, "org", "owner", members)
	errs := race(2*n, func(i int) error {
		if i < n {
			return s.TransferOwnership(ctx, "org", "owner", fmt.Sprintf("m%02d", i), epoch.Add(1000))
		}
		_, err := s.DeleteOrg(ctx, "org", "owner")
		return err
	})
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Fatalf("racers %d and %d both won", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, store.ErrOwner) && !errors.Is(err, store.ErrNotFound):
			t.Errorf("racer %d: %v", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no racer won")
	}
	_, err := s.Org(ctx, "org")
	if deleted := winner >= n; deleted != errors.Is(err, store.ErrNotFound) {
		t.Fatalf("winner %d, but Org says %v", winner, err)
	}
	if winner < n {
		if o := owners(t, s, "org"); len(o) != 1 || o[0] != fmt.Sprintf("m%02d", winner) {
			t.Fatalf("owners after the race: %v", o)
		}
	}
}

// Custom roles can be edited, and deleted only while no one holds them
// and SSO does not provision them; another organization's role of the same
// name is untouched.
//
// Controls: AUTHZ-1, AUTHZ-3
func testOrgRoleEdit(t *testing.T, open Opener) {
	s, ctx := open(t), context.Background()
	newOrg(t, s, "org-a", "alice", map[string]string{"bob": "admin"})
	newOrg(t, s, "org-b", "dave", nil)
	for _, org := range []string{"org-a", "org-b"} {
		if err := s.CreateOrgRole(ctx, store.OrgRole{OrgID: org, Name: "staff", Permissions: []string{"read"}, CreatedAt: epoch}); err != nil {
			t.Fatal(err)
		}
	}
	old, err := s.SetOrgRolePermissions(ctx, "org-a", "staff", []string{"read", "features.use"})
	if err != nil || !slices.Equal(old.Permissions, []string{"read"}) {
		t.Fatalf("SetOrgRolePermissions = %+v, %v", old, err)
	}
	if r, _ := s.OrgRole(ctx, "org-a", "staff"); !slices.Equal(r.Permissions, []string{"read", "features.use"}) {
		t.Fatalf("after the edit: %+v", r)
	}
	if r, _ := s.OrgRole(ctx, "org-b", "staff"); !slices.Equal(r.Permissions, []string{"read"}) {
		t.Fatalf("the other organization's role changed: %+v", r)
	}
	if _, err := s.SetOrgRolePermissions(ctx, "org-a", "nope", []string{"read"}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("editing a missing role: %v", err)
	}

	// Held by a member: refused until they have another role.
	if _, err := s.SetMemberRole(ctx, "org-a", "bob", "staff", epoch); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteOrgRole(ctx, "org-a", "staff"); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("deleting a held role: %v, want ErrConflict", err)
	}
	if _, err := s.SetMemberRole(ctx, "org-a", "bob", "viewer", epoch); err != nil {
		t.Fatal(err)
	}
	// Provisioned by SSO: refused too.
	sso := store.SSOConfig{ID: "sso-a", OrgID: "org-a", Issuer: "https://idp.example.com", ClientID: "cid",
		ClientSecret: connSealedLike("dk1", "secret"), ProvisionRole: "staff", UpdatedBy: "alice", CreatedAt: epoch, UpdatedAt: epoch}
	if err := s.PutSSOConfig(ctx, sso); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteOrgRole(ctx, "org-a", "staff"); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("deleting a role SSO provisions: %v, want ErrConflict", err)
	}
	sso.ProvisionRole = ""
	if err := s.PutSSOConfig(ctx, sso); err != nil {
		t.Fatal(err)
	}
	if r, err := s.DeleteOrgRole(ctx, "org-a", "staff"); err != nil || r.Name != "staff" {
		t.Fatalf("DeleteOrgRole = %+v, %v", r, err)
	}
	if _, err := s.OrgRole(ctx, "org-a", "staff"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleted role still there: %v", err)
	}
	if _, err := s.DeleteOrgRole(ctx, "org-a", "staff"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	if _, err := s.OrgRole(ctx, "org-b", "staff"); err != nil {
		t.Fatalf("the other organization's role: %v", err)
	}
}

// LockMember holds the organization until the transaction ends: a change
// decided on the membership it read cannot interleave with a concurrent
// demotion. Rounds of 8 "admin sets the target to operator if still
// admin" transactions race one "demote the admin, then set the target to
// viewer" transaction; whatever the order, the target ends as viewer,
// because a change that read "admin" committed before the demotion.
//
// Controls: AUTHZ-2, AUTHZ-3
func testLockMemberRace(t *testing.T, open Opener) {
	s, ctx := open(t), context.Background()
	newOrg(t, s, "org", "owner", map[string]string{"adm": "admin", "tgt": "viewer"})
	if _, err := s.LockMember(ctx, "org", "nobody"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("LockMember of a non-member: %v, want ErrNotFound", err)
	}
	if _, err := s.LockMember(ctx, "no-org", "adm"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("LockMember in a missing organization: %v, want ErrNotFound", err)
	}
	if m, err := s.LockMember(ctx, "org", "adm"); err != nil || m.Role != "admin" {
		t.Fatalf("LockMember = %+v, %v", m, err)
	}
	for round := range 10 {
		if _, err := s.SetMemberRole(ctx, "org", "adm", "admin", epoch); err != nil {
			t.Fatal(err)
		}
		errs := race(9, func(i int) error {
			if i == 0 {
				return s.Tx(ctx, func(tx store.Store) error {
					if _, err := tx.SetMemberRole(ctx, "org", "adm", "viewer", epoch); err != nil {
						return err
					}
					_, err := tx.SetMemberRole(ctx, "org", "tgt", "viewer", epoch)
					return err
				})
			}
			return s.Tx(ctx, func(tx store.Store) error {
				m, err := tx.LockMember(ctx, "org", "adm")
				if err != nil || m.Role != "admin" {
					return err
				}
				_, err = tx.SetMemberRole(ctx, "org", "tgt", "operator", epoch)
				return err
			})
		})
		for i, err := range errs {
			if err != nil {
				t.Fatalf("round %d, racer %d: %v", round, i, err)
			}
		}
		if m, err := s.Member(ctx, "org", "tgt"); err != nil || m.Role != "viewer" {
			t.Fatalf("round %d: target is %q (%v): a change by the admin landed after the demotion", round, m.Role, err)
		}
	}
}
