package auth

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/bootstrap/bootstraptest"
	"github.com/gatehouse-dev/gatehouse/shared/events"
	"github.com/gatehouse-dev/gatehouse/shared/events/eventstest"
	"github.com/gatehouse-dev/gatehouse/shared/store"
)

// Organizations end to end: the creator owns it; invitations go by e-mail,
// bound to the invited address and single use; roles change; custom roles
// are named permission sets; ownership moves only by transfer; every change
// is audited in the organization.
//
// Controls: AUTHZ-1, AUTHZ-4, AUTH-12
func TestOrgFlow(t *testing.T) {
	backends(t, func(t *testing.T, b bootstraptest.Backend) {
		te := newTestEnv(t, b)
		w := te.orgSetup(t)
		owner := bearer(w.tokens["ownerA"].AccessToken)
		var list struct {
			Orgs []orgJSON `json:"orgs"`
		}
		extDecodeBody(t, te.do(t, "GET", "/orgs", nil, bearer(w.tokens["adminA"].AccessToken)), http.StatusOK, &list)
		if len(list.Orgs) != 1 || list.Orgs[0].ID != w.A || list.Orgs[0].Role != "admin" || list.Orgs[0].Name != "Alpha" {
			t.Fatalf("GET /orgs as adminA: %+v", list)
		}

		// An invitation is for its address only, and works once.
		late := te.signUp(t, "late@example.com", testPassword)
		tok := te.orgInvite(t, w.A, w.tokens["ownerA"].AccessToken, "late@example.com", "viewer")
		rec := te.do(t, "POST", "/invitations/accept", map[string]string{"token": tok}, bearer(w.tokens["ownerB"].AccessToken))
		if rec.Code != http.StatusForbidden || errorCode(rec) != "invitation_email_mismatch" {
			t.Fatalf("accept by another account: %d %s", rec.Code, rec.Body)
		}
		extDecodeBody(t, te.do(t, "POST", "/invitations/accept", map[string]string{"token": tok}, bearer(late.AccessToken)), http.StatusOK, nil)
		if rec := te.do(t, "POST", "/invitations/accept", map[string]string{"token": tok}, bearer(late.AccessToken)); rec.Code != http.StatusBadRequest {
			t.Fatalf("second accept: %d %s", rec.Code, rec.Body)
		}

		// Custom role, then role changes.
		if rec := te.do(t, "POST", "/orgs/"+w.A+"/roles", map[string]any{"name": "auditor", "permissions": []string{"read", "audit.read"}}, owner); rec.Code != http.StatusBadRequest {
			t.Fatalf("custom role with audit.read (owners and admins only): %d %s", rec.Code, rec.Body)
		}
		rec = te.do(t, "POST", "/orgs/"+w.A+"/roles", map[string]any{"name": "auditor", "permissions": []string{"read", "features.use"}}, owner)
		extDecodeBody(t, rec, http.StatusCreated, nil)
		var roles struct {
			Roles []orgRoleJSON `json:"roles"`
		}
		extDecodeBody(t, te.do(t, "GET", "/orgs/"+w.A+"/roles", nil, bearer(late.AccessToken)), http.StatusOK, &roles)
		if len(roles.Roles) != 5 || roles.Roles[4].Name != "auditor" || roles.Roles[4].Builtin {
			t.Fatalf("roles: %+v", roles)
		}
		path := "/orgs/" + w.A + "/members/" + late.UserID
		extDecodeBody(t, te.do(t, "PATCH", path, map[string]string{"role": "auditor"}, owner), http.StatusOK, nil)
		if rec := te.do(t, "GET", "/orgs/"+w.A+"/audit", nil, bearer(late.AccessToken)); rec.Code != http.StatusForbidden {
			t.Fatalf("a custom role reading the trail: %d %s", rec.Code, rec.Body)
		}
		if rec := te.do(t, "PATCH", path, map[string]string{"role": "owner"}, owner); rec.Code != http.StatusBadRequest {
			t.Fatalf("granting owner by PATCH: %d %s", rec.Code, rec.Body)
		}
		if rec := te.do(t, "DELETE", "/orgs/"+w.A+"/members/"+w.ids["ownerA"], nil, bearer(w.tokens["adminA"].AccessToken)); rec.Code != http.StatusConflict {
			t.Fatalf("admin removing the owner: %d %s", rec.Code, rec.Body)
		}
		if rec := te.do(t, "DELETE", path, nil, owner); rec.Code != http.StatusNoContent {
			t.Fatalf("remove: %d %s", rec.Code, rec.Body)
		}
		if rec := te.do(t, "GET", "/orgs/"+w.A+"/members", nil, bearer(late.AccessToken)); rec.Code != http.StatusForbidden {
			t.Fatalf("removed member still reads: %d", rec.Code)
		}
		// One event per committed membership change; the refused ones emit none.
		got := emitted(t, te.Env.Store, "org/"+w.A+"/member/"+late.UserID)
		slices.Sort(got)
		want := []string{
			`org.member.added {"org_id":"A","user_id":"L","role":"viewer","by":"api"}`,
			`org.member.removed {"org_id":"A","user_id":"L","role":"auditor","by":"api"}`,
			`org.member.role_changed {"org_id":"A","user_id":"L","role":"auditor","previous_role":"viewer","by":"api"}`,
		}
		if r := strings.NewReplacer(w.A, "A", late.UserID, "L").Replace(strings.Join(got, "\n")); r != strings.Join(want, "\n") {
			t.Fatalf("events:\n%s", r)
		}
		member := "org/" + w.A + "/member/" + late.UserID
		eventstest.Require(t, te.Env.Store, events.OrgMemberAdded, member, map[string]string{"org_id": w.A, "user_id": late.UserID, "role": "viewer", "by": "api"})
		eventstest.Require(t, te.Env.Store, events.OrgMemberRoleChanged, member,
			map[string]string{"org_id": w.A, "user_id": late.UserID, "role": "auditor", "previous_role": "viewer", "by": "api"})
		eventstest.Require(t, te.Env.Store, events.OrgMemberRemoved, member, map[string]string{"org_id": w.A, "user_id": late.UserID, "role": "auditor", "by": "api"})

		// Transfer needs a recent sign-in, then moves the owner role.
		te.Env.Clock.Advance(11 * time.Minute)
		w.tokens["ownerA"] = te.extRefresh(t, w.tokens["ownerA"])
		w.tokens["adminA"] = te.extRefresh(t, w.tokens["adminA"])
		owner = bearer(w.tokens["ownerA"].AccessToken)
		xfer := map[string]string{"user_id": w.ids["adminA"]}
		if rec := te.do(t, "POST", "/orgs/"+w.A+"/owner", xfer, owner); rec.Code != http.StatusForbidden || errorCode(rec) != "reauthentication_required" {
			t.Fatalf("stale transfer: %d %s", rec.Code, rec.Body)
		}
		extDecodeBody(t, te.do(t, "POST", "/reauthenticate", map[string]string{"method": "password", "password": testPassword}, owner), http.StatusNoContent, nil)
		extDecodeBody(t, te.do(t, "POST", "/orgs/"+w.A+"/owner", xfer, owner), http.StatusOK, nil)
		if r := te.orgRole(t, w.A, w.tokens["adminA"].AccessToken, w.ids["ownerA"]); r != "admin" {
			t.Fatalf("former owner is %q", r)
		}
		if r := te.orgRole(t, w.A, w.tokens["adminA"].AccessToken, w.ids["adminA"]); r != "owner" {
			t.Fatalf("new owner is %q", r)
		}
		if rec := te.do(t, "POST", "/orgs/"+w.A+"/owner", xfer, owner); rec.Code != http.StatusForbidden {
			t.Fatalf("former owner transferring again: %d %s", rec.Code, rec.Body)
		}
		// The transfer announced both role changes, once.
		eventstest.Require(t, te.Env.Store, events.OrgMemberRoleChanged, "org/"+w.A+"/member/"+w.ids["adminA"],
			map[string]string{"org_id": w.A, "user_id": w.ids["adminA"], "role": "owner", "previous_role": "admin", "by": "api"})
		eventstest.Require(t, te.Env.Store, events.OrgMemberRoleChanged, "org/"+w.A+"/member/"+w.ids["ownerA"],
			map[string]string{"org_id": w.A, "user_id": w.ids["ownerA"], "role": "admin", "previous_role": "owner", "by": "api"})
		te.orgAuditHas(t, w.A, "org.create", "org.invitation.create", "org.member.add", "org.role.create",
			"org.member.role_change", "org.member.remove", "org.owner.transfer")
	})
}

// orgAuditHas fails t unless org's trail has each action (once the
// sequencer has integrated what was recorded).
func (te *testEnv) orgAuditHas(t testing.TB, org string, actions ...string) {
	t.Helper()
	te.Env.IntegrateAudit(t)
	evs, err := te.Env.Store.OrgAuditEvents(t.Context(), org, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range actions {
		if !slices.ContainsFunc(evs, func(e store.AuditEvent) bool { return e.Action == a }) {
			t.Errorf("no %s event in the trail of %s", a, org)
		}
	}
}

// No one can hand out, or act on someone holding, more than they hold:
// no owner-only permission in custom roles, no promotion above oneself.
//
// Controls: AUTHZ-1, AUTHZ-2
func TestOrgNoEscalation(t *testing.T) {
	te := newTestEnv(t, bootstraptest.Backends[0])
	w := te.orgSetup(t)
	owner, admin := bearer(w.tokens["ownerA"].AccessToken), bearer(w.tokens["adminA"].AccessToken)
	extDecodeBody(t, te.do(t, "POST", "/orgs/"+w.A+"/roles",
		map[string]any{"name": "gatekeeper", "permissions": []string{"read", "members.manage"}}, owner), http.StatusCreated, nil)
	extDecodeBody(t, te.do(t, "PATCH", "/orgs/"+w.A+"/members/"+w.ids["viewerA"], map[string]string{"role": "gatekeeper"}, owner), http.StatusOK, nil)
	keeper := bearer(w.tokens["viewerA"].AccessToken)
	for _, tc := range []struct {
		name   string
		hdr    http.Header
		method string
		path   string
		body   any
		want   int
	}{
		{"custom role with billing", admin, "POST", "/orgs/" + w.A + "/roles", map[string]any{"name": "payer", "permissions": []string{"billing.manage"}}, 400},
		{"custom role naming a built-in", admin, "POST", "/orgs/" + w.A + "/roles", map[string]any{"name": "admin", "permissions": []string{"read"}}, 400},
		{"gatekeeper promotes self to admin", keeper, "PATCH", "/orgs/" + w.A + "/members/" + w.ids["viewerA"], map[string]string{"role": "admin"}, 403},
		{"gatekeeper demotes the admin", keeper, "PATCH", "/orgs/" + w.A + "/members/" + w.ids["adminA"], map[string]string{"role": "viewer"}, 403},
		{"gatekeeper invites an admin", keeper, "POST", "/orgs/" + w.A + "/invitations", map[string]string{"email": "x@example.com", "role": "admin"}, 403},
		{"gatekeeper creates a role with integrations", keeper, "POST", "/orgs/" + w.A + "/roles", map[string]any{"name": "ops", "permissions": []string{"integrations.manage"}}, 403},
		{"admin demotes the owner", admin, "PATCH", "/orgs/" + w.A + "/members/" + w.ids["ownerA"], map[string]string{"role": "viewer"}, 409},
		{"admin transfers ownership", admin, "POST", "/orgs/" + w.A + "/owner", map[string]string{"user_id": w.ids["adminA"]}, 403},
		{"unknown role", admin, "PATCH", "/orgs/" + w.A + "/members/" + w.ids["operatorA"], map[string]string{"role": "wizard"}, 400},
		{"operator manages members", bearer(w.tokens["operatorA"].AccessToken), "DELETE", "/orgs/" + w.A + "/members/" + w.ids["viewerA"], nil, 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if rec := te.do(t, tc.method, tc.path, tc.body, tc.hdr); rec.Code != tc.want {
				t.Fatalf("%d %s, want %d", rec.Code, rec.Body, tc.want)
			}
		})
	}
	if r := te.orgRole(t, w.A, w.tokens["ownerA"].AccessToken, w.ids["adminA"]); r != "admin" {
		t.Fatalf("admin is now %q", r)
	}
}

// A member of A reads and changes nothing of B through any route, whatever
// their role in A; B's members, roles and trail are unchanged after.
//
// Controls: AUTHZ-3, AUTHZ-2
func TestOrgTenantIsolation(t *testing.T) {
	backends(t, func(t *testing.T, b bootstraptest.Backend) {
		te := newTestEnv(t, b)
		w := te.orgSetup(t)
		te.Env.IntegrateAudit(t)
		before, err := te.Env.Store.OrgAuditEvents(t.Context(), w.B, 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		bUser := w.ids["memberB"]
		routes := []struct {
			method, path string
			body         any
		}{
			{"GET", "/orgs/" + w.B + "/members", nil},
			{"POST", "/orgs/" + w.B + "/invitations", map[string]string{"email": "spy@example.com", "role": "viewer"}},
			{"PATCH", "/orgs/" + w.B + "/members/" + bUser, map[string]string{"role": "viewer"}},
			{"DELETE", "/orgs/" + w.B + "/members/" + bUser, nil},
			{"POST", "/orgs/" + w.B + "/owner", map[string]string{"user_id": w.ids["ownerA"]}},
			{"GET", "/orgs/" + w.B + "/roles", nil},
			{"POST", "/orgs/" + w.B + "/roles", map[string]any{"name": "spy", "permissions": []string{"read"}}},
			{"GET", "/orgs/" + w.B + "/audit", nil},
			// B's user through A's path: not a member of A, so not found there.
			{"PATCH", "/orgs/" + w.A + "/members/" + bUser, map[string]string{"role": "viewer"}},
			{"DELETE", "/orgs/" + w.A + "/members/" + bUser, nil},
			{"POST", "/orgs/" + w.A + "/owner", map[string]string{"user_id": bUser}},
		}
		for _, caller := range []string{"ownerA", "adminA", "operatorA", "viewerA"} {
			for _, r := range routes {
				rec := te.do(t, r.method, r.path, r.body, bearer(w.tokens[caller].AccessToken))
				ok := rec.Code == http.StatusForbidden || rec.Code == http.StatusNotFound
				if !ok || strings.Contains(rec.Body.String(), "Beta") || strings.Contains(rec.Body.String(), bUser) {
					t.Errorf("%s %s %s: %d %s", caller, r.method, r.path, rec.Code, rec.Body)
				}
			}
		}
		if r := te.orgRole(t, w.B, w.tokens["ownerB"].AccessToken, bUser); r != "admin" {
			t.Fatalf("memberB's role in B is now %q", r)
		}
		if r := te.orgRole(t, w.B, w.tokens["ownerB"].AccessToken, w.ids["ownerA"]); r != "" {
			t.Fatalf("ownerA became %q of B", r)
		}
		te.Env.IntegrateAudit(t)
		after, _ := te.Env.Store.OrgAuditEvents(t.Context(), w.B, 0, 1000)
		if len(after) != len(before) {
			t.Fatalf("B's trail grew from %d to %d events", len(before), len(after))
		}
		if roles, _ := te.Env.Store.OrgRoles(t.Context(), w.B); len(roles) != 0 {
			t.Fatalf("a role was created in B: %+v", roles)
		}
	})
}

// Owners and admins read their organization's trail, and only theirs,
// newest first and paginated; operators and viewers get 403.
//
// Controls: AUDIT-4, AUTHZ-3
func TestOrgAuditRead(t *testing.T) {
	backends(t, func(t *testing.T, b bootstraptest.Backend) {
		te := newTestEnv(t, b)
		w := te.orgSetup(t)
		te.Env.IntegrateAudit(t)
		for _, tc := range []struct {
			caller string
			want   int
		}{{"ownerA", 200}, {"adminA", 200}, {"operatorA", 403}, {"viewerA", 403}, {"ownerB", 403}} {
			rec := te.do(t, "GET", "/orgs/"+w.A+"/audit", nil, bearer(w.tokens[tc.caller].AccessToken))
			if rec.Code != tc.want {
				t.Fatalf("%s: %d %s", tc.caller, rec.Code, rec.Body)
			}
		}
		var seen []auditEventJSON
		next := ""
		for page := 0; page < 20; page++ {
			var body struct {
				Events []auditEventJSON `json:"events"`
				Next   string           `json:"next"`
			}
			path := "/orgs/" + w.A + "/audit?limit=2"
			if next != "" {
				path += "&before=" + next
			}
			extDecodeBody(t, te.do(t, "GET", path, nil, bearer(w.tokens["adminA"].AccessToken)), http.StatusOK, &body)
			seen = append(seen, body.Events...)
			if next = body.Next; next == "" {
				break
			}
		}
		want, _ := te.Env.Store.OrgAuditEvents(t.Context(), w.A, 0, 1000)
		if len(seen) != len(want) || len(seen) < 5 {
			t.Fatalf("paged %d events, the trail has %d", len(seen), len(want))
		}
		for i, e := range seen {
			if i > 0 && e.Seq >= seen[i-1].Seq {
				t.Fatalf("events not newest first at %d", i)
			}
			var meta map[string]any
			if json.Unmarshal(e.Metadata, &meta) != nil || e.Action == "" {
				t.Fatalf("event %+v", e)
			}
		}
		for _, e := range want {
			if e.OrgID != w.A {
				t.Fatalf("event of %q in A's trail", e.OrgID)
			}
		}
		for _, bad := range []string{"?before=0", "?before=x", "?limit=0", "?limit=101"} {
			if rec := te.do(t, "GET", "/orgs/"+w.A+"/audit"+bad, nil, bearer(w.tokens["ownerA"].AccessToken)); rec.Code != http.StatusBadRequest {
				t.Errorf("%s: %d", bad, rec.Code)
			}
		}
	})
}

// Concurrent transfers by the owner to different members over HTTP:
// exactly one wins and the organization keeps exactly one owner.
//
// Controls: AUTHZ-1
func TestOrgConcurrentTransfer(t *testing.T) {
	backends(t, func(t *testing.T, b bootstraptest.Backend) {
		te := newTestEnv(t, b)
		w := te.orgSetup(t)
		targets := []string{"adminA", "operatorA", "viewerA"}
		codes := make([]int, 3*len(targets))
		var wg sync.WaitGroup
		for i := range codes {
			to := w.ids[targets[i%len(targets)]]
			wg.Go(func() {
				codes[i] = te.do(t, "POST", "/orgs/"+w.A+"/owner", map[string]string{"user_id": to},
					bearer(w.tokens["ownerA"].AccessToken)).Code
			})
		}
		wg.Wait()
		if n := countStatus(codes, http.StatusOK); n != 1 {
			t.Fatalf("%d transfers succeeded (%v), want 1", n, codes)
		}
		owners := 0
		for _, u := range []string{"ownerA", "adminA", "operatorA", "viewerA"} {
			if te.orgRole(t, w.A, w.tokens["adminA"].AccessToken, w.ids[u]) == "owner" {
				owners++
			}
		}
		if owners != 1 {
			t.Fatalf("%d owners after the race", owners)
		}
	})
}

func countStatus(codes []int, status int) int {
	n := 0
	for _, c := range codes {
		if c == status {
			n++
		}
	}
	return n
}

// Deleting an account that owns an organization is refused; once the
// ownership moved, deletion removes memberships and factors, audited in
// each organization. The export lists organizations and factors, no secret.
//
// Controls: AUTHZ-1, AUTHZ-4, AUTH-5
func TestOrgUserData(t *testing.T) {
	te := newTestEnv(t, bootstraptest.Backends[0])
	w := te.orgSetup(t)
	owner := w.tokens["ownerA"]
	a := te.mfaEnrollTOTP(t, owner.AccessToken)
	rec := te.do(t, "GET", "/me/export", nil, bearer(owner.AccessToken))
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), w.A) || strings.Contains(rec.Body.String(), a.secret.Base32()) {
		t.Fatalf("export: %d %s", rec.Code, rec.Body)
	}
	if rec := te.do(t, "DELETE", "/me", nil, bearer(owner.AccessToken)); rec.Code != http.StatusConflict || errorCode(rec) != "sole_owner" {
		t.Fatalf("deleting an owner: %d %s", rec.Code, rec.Body)
	}
	extDecodeBody(t, te.do(t, "POST", "/orgs/"+w.A+"/owner", map[string]string{"user_id": w.ids["adminA"]}, bearer(owner.AccessToken)), http.StatusOK, nil)
	if rec := te.do(t, "DELETE", "/me", nil, bearer(owner.AccessToken)); rec.Code != http.StatusNoContent {
		t.Fatalf("delete: %d %s", rec.Code, rec.Body)
	}
	ctx := t.Context()
	if orgs, _ := te.Env.Store.UserOrgs(ctx, owner.UserID); len(orgs) != 0 {
		t.Fatalf("memberships survived: %+v", orgs)
	}
	if _, err := te.Env.Store.TOTPSecret(ctx, owner.UserID); err == nil {
		t.Fatal("TOTP secret survived")
	}
	te.orgAuditHas(t, w.A, "org.member.remove")
}

// Every organization route needs a session; bad input is a structured 400
// and changes nothing.
//
// Controls: AUTHZ-2, APP-1, APP-6
func TestOrgRoutesInput(t *testing.T) {
	te := newTestEnv(t, bootstraptest.Backends[0])
	tk := te.signUp(t, "ivy@example.com", testPassword)
	org := te.orgCreate(t, tk.AccessToken, "Ivy")
	for _, route := range []string{"POST /orgs", "GET /orgs", "GET /orgs/x/members", "POST /orgs/x/invitations",
		"POST /invitations/accept", "PATCH /orgs/x/members/y", "DELETE /orgs/x/members/y", "POST /orgs/x/owner",
		"GET /orgs/x/roles", "POST /orgs/x/roles", "GET /orgs/x/audit", "DELETE /orgs/x", "POST /orgs/x/leave", "PATCH /orgs/x/roles/y", "DELETE /orgs/x/roles/y", "GET /orgs/x/invitations", "DELETE /orgs/x/invitations/y"} {
		method, path, _ := strings.Cut(route, " ")
		if rec := te.do(t, method, path, "{}"); rec.Code != http.StatusUnauthorized {
			t.Errorf("%s without a session: %d", route, rec.Code)
		}
	}
	for _, tc := range []struct {
		name, method, path, body string
	}{
		{"empty name", "POST", "/orgs", `{"name":""}`},
		{"control character", "POST", "/orgs", `{"name":"a\u0007b"}`},
		{"padded name", "POST", "/orgs", `{"name":" a"}`},
		{"long name", "POST", "/orgs", `{"name":"` + strings.Repeat("x", 101) + `"}`},
		{"unknown field", "POST", "/orgs", `{"name":"a","owner":"someone"}`},
		{"bad email", "POST", "/orgs/" + org + "/invitations", `{"email":"not-an-address","role":"viewer"}`},
		{"owner invitation", "POST", "/orgs/" + org + "/invitations", `{"email":"x@example.com","role":"owner"}`},
		{"role name", "POST", "/orgs/" + org + "/roles", `{"name":"Bad Name","permissions":["read"]}`},
		{"no permissions", "POST", "/orgs/" + org + "/roles", `{"name":"empty","permissions":[]}`},
		{"permissions not a list", "POST", "/orgs/" + org + "/roles", `{"name":"x1","permissions":"read"}`},
		{"accept garbage", "POST", "/invitations/accept", `{"token":"` + strings.Repeat("z", 200) + `"}`},
		{"members limit", "GET", "/orgs/" + org + "/members?limit=abc", ``},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body any
			if tc.body != "" {
				body = tc.body
			}
			rec := te.do(t, tc.method, tc.path, body, bearer(tk.AccessToken))
			if rec.Code != http.StatusBadRequest || errorCode(rec) == "" {
				t.Fatalf("%d %s, want 400", rec.Code, rec.Body)
			}
		})
	}
	if orgs, _ := te.Env.Store.UserOrgs(t.Context(), tk.UserID); len(orgs) != 1 {
		t.Fatalf("bad requests created organizations: %+v", orgs)
	}
	if roles, _ := te.Env.Store.OrgRoles(t.Context(), org); len(roles) != 0 {
		t.Fatalf("bad requests created roles: %+v", roles)
	}
}
