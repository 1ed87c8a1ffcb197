package authz

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/gatehouse-dev/gatehouse/shared/bootstrap/bootstraptest"
	"github.com/gatehouse-dev/gatehouse/shared/session"
	"github.com/gatehouse-dev/gatehouse/shared/store"
)

// newTestAuthorizer returns an Authorizer over a store holding:
// org-a (owner alice; admin ann, operator otto, viewer vic, support sue)
// and org-b (owner bob).
func newTestAuthorizer(t *testing.T) (*Authorizer, *bootstraptest.Env) {
	t.Helper()
	env := bootstraptest.New(t, bootstraptest.SQLite(t))
	ctx := context.Background()
	s := env.Store
	for org, owner := range map[string]string{"org-a": "alice", "org-b": "bob"} {
		if err := s.CreateOrg(ctx, store.Org{ID: org, Name: org, CreatedAt: env.Now()}, owner); err != nil {
			t.Fatal(err)
		}
	}
	// A custom role whose row also names built-in-only permissions (as if
	// written around the API, or before audit.read was reserved to owners
	// and admins): they must still not be granted.
	if err := s.CreateOrgRole(ctx, store.OrgRole{OrgID: "org-a", Name: "support",
		Permissions: []string{"read", "features.use", "audit.read", "billing.manage"}, CreatedAt: env.Now()}); err != nil {
		t.Fatal(err)
	}
	for user, role := range map[string]string{"ann": RoleAdmin, "otto": RoleOperator, "vic": RoleViewer, "sue": "support", "gus": "ghost"} {
		if err := s.AddMember(ctx, store.Member{OrgID: "org-a", UserID: user, Role: role, CreatedAt: env.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	return New(env.Deps), env
}

// serve runs one request for user through Require(perm) on "GET /orgs/{org}/x".
func serve(a *Authorizer, user string, perm Permission, org string) (*httptest.ResponseRecorder, Member) {
	var seen Member
	mux := http.NewServeMux()
	mux.Handle("GET /orgs/{org}/x", a.Require(perm, OrgFromPath("org"))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen, _ = MemberFrom(r.Context())
		w.WriteHeader(http.StatusNoContent)
	})))
	req := httptest.NewRequest("GET", "/orgs/"+org+"/x", nil)
	if user != "" {
		req = req.WithContext(session.WithPrincipal(req.Context(), session.Principal{UserID: user}))
	}
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	return rec, seen
}

// Controls: AUTHZ-1
func TestBuiltinRolePermissions(t *testing.T) {
	all := Permissions()
	for _, tc := range []struct {
		name string
		role string
		want []Permission
	}{
		{"owner holds everything", RoleOwner, all},
		{"admin: members, integrations, features, audit", RoleAdmin,
			[]Permission{PermRead, PermFeaturesUse, PermMembersManage, PermIntegrationsManage, PermAuditRead}},
		{"operator: features only", RoleOperator, []Permission{PermRead, PermFeaturesUse}},
		{"viewer: read only", RoleViewer, []Permission{PermRead}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := BuiltinPermissions(tc.role)
			if !ok || !slices.Equal(got, tc.want) {
				t.Fatalf("BuiltinPermissions(%q) = %v, %v; want %v", tc.role, got, ok, tc.want)
			}
		})
	}
	if _, ok := BuiltinPermissions("support"); ok {
		t.Fatal("a custom role name resolved as built-in")
	}
}

// Every role against every permission in its own organization, then across
// organizations and without a principal: only the grants in the role
// table pass; everything else is denied.
//
// Controls: AUTHZ-1, AUTHZ-2, AUTHZ-3
func TestRequire(t *testing.T) {
	a, _ := newTestAuthorizer(t)
	grants := map[string][]Permission{
		"alice": Permissions(),
		"ann":   {PermRead, PermFeaturesUse, PermMembersManage, PermIntegrationsManage, PermAuditRead},
		"otto":  {PermRead, PermFeaturesUse},
		"vic":   {PermRead},
		"sue":   {PermRead, PermFeaturesUse},
		"gus":   nil, // a role the organization does not have grants nothing
		"bob":   nil, // owner of org-b, not a member of org-a
	}
	for user, granted := range grants {
		for _, perm := range Permissions() {
			rec, m := serve(a, user, perm, "org-a")
			want := http.StatusForbidden
			if slices.Contains(granted, perm) {
				want = http.StatusNoContent
			}
			if rec.Code != want {
				t.Errorf("%s %s in org-a: status %d, want %d", user, perm, rec.Code, want)
			}
			if want == http.StatusNoContent && (m.UserID != user || m.OrgID != "org-a" || !m.Can(perm)) {
				t.Errorf("%s %s: member in context = %+v", user, perm, m)
			}
		}
	}
	for _, tc := range []struct {
		name, user string
		perm       Permission
		org        string
		want       int
	}{
		{"owner of A reading B", "alice", PermRead, "org-b", http.StatusForbidden},
		{"unknown organization", "alice", PermRead, "org-zzz", http.StatusForbidden},
		{"unknown permission", "alice", Permission("root"), "org-a", http.StatusForbidden},
		{"no principal", "", PermRead, "org-a", http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if rec, _ := serve(a, tc.user, tc.perm, tc.org); rec.Code != tc.want {
				t.Fatalf("status %d, want %d", rec.Code, tc.want)
			}
		})
	}
}

// Denials are audited: in the organization for a member lacking the
// permission, outside it for a non-member.
//
// Controls: AUDIT-1, AUTHZ-3
func TestDenialsAudited(t *testing.T) {
	a, env := newTestAuthorizer(t)
	serve(a, "vic", PermMembersManage, "org-a")
	serve(a, "bob", PermRead, "org-a")
	evs, err := env.Store.AuditEvents(context.Background(), 0, 10)
	if err != nil || len(evs) != 2 {
		t.Fatalf("audit events = %d, %v; want 2", len(evs), err)
	}
	for i, want := range []struct{ actor, org string }{{"vic", "org-a"}, {"bob", ""}} {
		e := evs[i]
		var meta map[string]string
		json.Unmarshal([]byte(e.Metadata), &meta)
		if e.Action != "authz.deny" || e.Outcome != store.OutcomeDenied || e.Actor != want.actor || e.OrgID != want.org ||
			e.Target != "org:org-a" || meta["route"] != "GET /orgs/{org}/x" {
			t.Errorf("event %d = %+v", i, e)
		}
	}
}

// A store that cannot answer denies with 503, never lets the request through.
//
// Controls: APP-5, AUTHZ-2
func TestRequireFailsClosed(t *testing.T) {
	a, env := newTestAuthorizer(t)
	env.Store.Close()
	if rec, _ := serve(a, "alice", PermRead, "org-a"); rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("status %d with the store down, want 503", rec.Code)
	}
}

// Controls: AUTHZ-1, APP-1
func TestParseCustomPermissions(t *testing.T) {
	for _, tc := range []struct {
		name  string
		in    []string
		want  []Permission
		valid bool
	}{
		{"sorted and kept", []string{"features.use", "read"}, []Permission{PermRead, PermFeaturesUse}, true},
		{"audit trail is owners' and admins' only", []string{"read", "audit.read"}, nil, false},
		{"empty", nil, nil, false},
		{"unknown", []string{"read", "sudo"}, nil, false},
		{"owner-only billing", []string{"billing.manage"}, nil, false},
		{"owner-only transfer", []string{"org.transfer"}, nil, false},
		{"duplicate", []string{"read", "read"}, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseCustomPermissions(tc.in)
			if (err == nil) != tc.valid || !slices.Equal(got, tc.want) {
				t.Fatalf("ParseCustomPermissions(%v) = %v, %v", tc.in, got, err)
			}
		})
	}
	for name, ok := range map[string]bool{"support": true, "ci-bot_2": true, "admin": false, "owner": false,
		"A": false, "x": false, "Support": false, "1abc": false, "a b": false, "abcdefghijklmnopqrstuvwxyz0123456": false} {
		if ValidCustomRoleName(name) != ok {
			t.Errorf("ValidCustomRoleName(%q) = %v", name, !ok)
		}
	}
}

// Controls: AUTHZ-1
func TestGrants(t *testing.T) {
	admin := Member{Permissions: []Permission{PermRead, PermMembersManage}}
	if !Grants(admin, []Permission{PermRead}) || Grants(admin, []Permission{PermRead, PermIntegrationsManage}) {
		t.Fatal("Grants must allow exactly subsets of the actor's permissions")
	}
}

// A flood of refused requests does not flood the audit log: 150 denials
// of one user write the first of each kind and a bounded sample, not 150
// rows; past LimitDenialsUser the user is answered 429; another user's
// denials are still audited; after the window the next audited denial
// reports how many were suppressed. Before, every denial wrote a row.
//
// Controls: AUDIT-1, AUTHZ-2, APP-5, AUTH-3
func TestDenialsSampledAndLimited(t *testing.T) {
	for _, be := range bootstraptest.Backends {
		t.Run(be.Name, func(t *testing.T) {
			env := bootstraptest.New(t, be.Open(t))
			ctx := context.Background()
			for org, owner := range map[string]string{"org-a": "alice", "org-b": "bob"} {
				if err := env.Store.CreateOrg(ctx, store.Org{ID: org, Name: org, CreatedAt: env.Now()}, owner); err != nil {
					t.Fatal(err)
				}
			}
			if err := env.Store.AddMember(ctx, store.Member{OrgID: "org-a", UserID: "vic", Role: RoleViewer, CreatedAt: env.Now()}); err != nil {
				t.Fatal(err)
			}
			a := New(env.Deps)
			codes := map[int]int{}
			for i := range 150 {
				org, perm := "org-a", PermMembersManage // missing_permission
				if i%2 == 1 {
					org, perm = "org-b", PermRead // not_member
				}
				rec, _ := serve(a, "vic", perm, org)
				codes[rec.Code]++
			}
			if codes[http.StatusForbidden] != LimitDenialsUser.Burst || codes[http.StatusTooManyRequests] != 150-LimitDenialsUser.Burst {
				t.Fatalf("answers %v, want %d 403 then 429", codes, LimitDenialsUser.Burst)
			}
			denials := func() map[string]int {
				evs, err := env.Store.AuditEvents(ctx, 0, 1000)
				if err != nil {
					t.Fatal(err)
				}
				n := map[string]int{}
				for _, e := range evs {
					if e.Action != "authz.deny" {
						continue
					}
					var m struct {
						Reason     string `json:"reason"`
						Suppressed int    `json:"suppressed"`
					}
					if err := json.Unmarshal([]byte(e.Metadata), &m); err != nil {
						t.Fatal(err)
					}
					n[e.Actor+" "+m.Reason]++
					n["suppressed"] += m.Suppressed
				}
				return n
			}
			got := denials()
			if got["vic missing_permission"] != denialAuditBurst || got["vic not_member"] != denialAuditBurst {
				t.Fatalf("audited denials %v, want the first %d of each kind", got, denialAuditBurst)
			}
			if rec, _ := serve(a, "bob", PermRead, "org-a"); rec.Code != http.StatusForbidden || denials()["bob not_member"] != 1 {
				t.Fatalf("another user's denial: %d, audited %v", rec.Code, denials())
			}
			env.Clock.Advance(LimitDenialsUser.Period)
			if rec, _ := serve(a, "vic", PermRead, "org-b"); rec.Code != http.StatusForbidden {
				t.Fatalf("after the period: %d", rec.Code)
			}
			if got := denials(); got["vic not_member"] != denialAuditBurst+1 || got["suppressed"] != LimitDenialsUser.Burst/2-denialAuditBurst {
				t.Fatalf("after the window: %v, want %d suppressed reported", got, LimitDenialsUser.Burst/2-denialAuditBurst)
			}
		})
	}
}
