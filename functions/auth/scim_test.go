package auth

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/bootstrap/bootstraptest"
	"github.com/gatehouse-dev/gatehouse/shared/notify"
	"github.com/gatehouse-dev/gatehouse/shared/store"
)

// scimWorld is two organizations, each with a verified domain and a SCIM
// token, and a user of A's domain who is also a member of B.
type scimWorld struct {
	te             *testEnv
	a, b           string // organization ids
	tokA, tokB     string // SCIM tokens
	ownerA, ownerB tokens
}

func newSCIMWorld(t testing.TB, b bootstraptest.Backend) *scimWorld {
	t.Helper()
	te := newTestEnv(t, b)
	w := &scimWorld{te: te}
	w.ownerA = te.signUp(t, "owner@corp.example.com", testPassword)
	w.ownerB = te.signUp(t, "owner@beta.example.com", testPassword)
	w.a = te.orgCreate(t, w.ownerA.AccessToken, "Corp")
	w.b = te.orgCreate(t, w.ownerB.AccessToken, "Beta")
	for org, domain := range map[string]string{w.a: "corp.example.com", w.b: "beta.example.com"} {
		d := store.SSODomain{ID: "dom-" + domain, OrgID: org, Domain: domain, Token: "t", CreatedBy: "test", CreatedAt: te.Env.Now()}
		if err := te.Env.Store.CreateSSODomain(t.Context(), d); err != nil {
			t.Fatal(err)
		}
		if err := te.Env.Store.VerifySSODomain(t.Context(), org, d.ID, te.Env.Now()); err != nil {
			t.Fatal(err)
		}
	}
	w.tokA = w.createToken(t, w.a, w.ownerA)
	w.tokB = w.createToken(t, w.b, w.ownerB)
	return w
}

func (w *scimWorld) createToken(t testing.TB, org string, owner tokens) string {
	t.Helper()
	var out scimJSON
	extDecodeBody(t, w.te.do(t, "POST", "/orgs/"+org+"/scim/token", nil, bearer(owner.AccessToken)), http.StatusCreated, &out)
	if !out.Enabled || !strings.HasPrefix(out.Token, "ghscim_") || !strings.HasSuffix(out.BaseURL, "/auth/scim/v2/"+org) {
		t.Fatalf("token answer %+v", out)
	}
	w.te.Env.Logs.Plant(out.Token)
	return out.Token
}

// scim sends a SCIM request with token tok to org and decodes the answer
// into a map (nil for an empty body).
func (w *scimWorld) scim(t testing.TB, tok, org, method, path, body string) (int, map[string]any) {
	t.Helper()
	var b any
	if body != "" {
		b = body
	}
	h := http.Header{"Content-Type": {"application/scim+json"}}
	if tok != "" {
		h.Set("Authorization", "Bearer "+tok)
	}
	rec := w.te.do(t, method, "/scim/v2/"+org+path, b, h)
	var out map[string]any
	if rec.Body.Len() > 0 {
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			t.Fatalf("%s %s: %d, body not JSON: %s", method, path, rec.Code, rec.Body)
		}
	}
	if rec.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("%s %s: Cache-Control %q", method, path, rec.Header().Get("Cache-Control"))
	}
	return rec.Code, out
}

// signIn gives a provisioned user (no password) one through a password
// reset and returns a session.
func (w *scimWorld) signIn(t testing.TB, email string) tokens {
	t.Helper()
	w.te.do(t, "POST", "/password/reset", map[string]string{"email": email})
	tok := linkToken(t, w.te.lastMessage(t, email, notify.KindPasswordReset))
	if rec := w.te.do(t, "POST", "/password/reset/confirm", map[string]string{"token": tok, "password": testPassword}); rec.Code != http.StatusNoContent {
		t.Fatalf("reset confirm: %d %s", rec.Code, rec.Body)
	}
	return decodeTokens(t, w.te.login(t, email, testPassword))
}

func (w *scimWorld) member(t testing.TB, org, userID string) (store.Member, bool) {
	t.Helper()
	m, err := w.te.Env.Store.Member(t.Context(), org, userID)
	if err != nil && err != store.ErrNotFound && !strings.Contains(err.Error(), "not found") {
		t.Fatal(err)
	}
	return m, err == nil
}

// The request shapes below follow Okta's and Microsoft Entra ID's public
// SCIM 2.0 provisioning documentation: the existence check by userName
// filter, the create body, Okta's path-less replace of active, Entra's
// capitalized ops with string booleans and members[value eq ...] paths.
const (
	oktaCreate = `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"alice@corp.example.com",
		"name":{"givenName":"Alice","familyName":"Ng"},"emails":[{"primary":true,"value":"alice@corp.example.com","type":"work"}],
		"displayName":"Alice Ng","locale":"en-US","externalId":"00u1okta","groups":[],"active":true}`
	oktaDeactivate = `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":false}}]}`
	oktaReactivate = `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":true}}]}`
	entraCreate    = `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
		"externalId":"bob","userName":"Bob@corp.example.com","active":true,"displayName":"Bob Ray",
		"emails":[{"primary":true,"type":"work","value":"Bob@corp.example.com"}],"meta":{"resourceType":"User"},
		"name":{"formatted":"Bob Ray","familyName":"Ray","givenName":"Bob"}}`
	entraDisable = `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"active","value":"False"}]}`
	entraRename  = `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
		{"op":"Add","path":"displayName","value":"Robert Ray"},{"op":"Replace","path":"externalId","value":"bob-2"}]}`
)

// An organization's identity provider provisions and deprovisions its
// members through SCIM in Okta's and Entra ID's shapes; deprovisioning
// ends the user's sessions from its SSO in the same request cycle (a
// password session loses the organization's routes) and leaves other
// organizations' memberships alone; nothing crosses organizations.
//
// Controls: AUTHZ-5, AUTHZ-3, AUTH-13
func TestSCIMProvisioning(t *testing.T) {
	backends(t, func(t *testing.T, b bootstraptest.Backend) {
		w := newSCIMWorld(t, b)

		code, list := w.scim(t, w.tokA, w.a, "GET", `/Users?filter=userName%20eq%20%22alice%40corp.example.com%22&startIndex=1&count=100`, "")
		if code != 200 || list["totalResults"] != 0.0 {
			t.Fatalf("existence check before create: %d %v", code, list)
		}
		code, alice := w.scim(t, w.tokA, w.a, "POST", "/Users", oktaCreate)
		if code != http.StatusCreated || alice["userName"] != "alice@corp.example.com" || alice["externalId"] != "00u1okta" || alice["active"] != true {
			t.Fatalf("okta create: %d %v", code, alice)
		}
		aliceID := alice["id"].(string)
		if code, again := w.scim(t, w.tokA, w.a, "POST", "/Users", oktaCreate); code != http.StatusConflict || again["scimType"] != "uniqueness" {
			t.Fatalf("second create: %d %v", code, again)
		}
		if m, ok := w.member(t, w.a, aliceID); !ok || m.Role != "viewer" {
			t.Fatalf("membership after create: %+v %v", m, ok)
		}
		code, list = w.scim(t, w.tokA, w.a, "GET", `/Users?filter=userName%20eq%20%22alice%40corp.example.com%22`, "")
		if code != 200 || list["totalResults"] != 1.0 {
			t.Fatalf("existence check after create: %d %v", code, list)
		}

		// Alice is also a member of Beta, through an invitation.
		aliceTk := w.signIn(t, "alice@corp.example.com")
		w.te.orgInviteAccept(t, w.b, w.ownerB.AccessToken, "alice@corp.example.com", "viewer", aliceTk.AccessToken)
		if rec := w.te.do(t, "GET", "/orgs/"+w.a+"/members", nil, bearer(aliceTk.AccessToken)); rec.Code != 200 {
			t.Fatalf("member reads A before deprovisioning: %d", rec.Code)
		}

		aliceSSO := w.te.signInVia(t, aliceID, w.a, "fed", "sso")

		code, off := w.scim(t, w.tokA, w.a, "PATCH", "/Users/"+aliceID, oktaDeactivate)
		if code != 200 || off["active"] != false {
			t.Fatalf("okta deactivate: %d %v", code, off)
		}
		if rec := w.te.do(t, "GET", "/me", nil, bearer(aliceSSO.AccessToken)); rec.Code != http.StatusUnauthorized {
			t.Fatalf("access token of A's SSO after deprovisioning: %d", rec.Code)
		}
		if rec := w.te.do(t, "POST", "/token", map[string]string{"refresh_token": aliceSSO.RefreshToken}); rec.Code != http.StatusUnauthorized {
			t.Fatalf("refresh of A's SSO after deprovisioning: %d", rec.Code)
		}
		if rec := w.te.do(t, "GET", "/orgs/"+w.a+"/members", nil, bearer(aliceTk.AccessToken)); rec.Code != http.StatusForbidden {
			t.Fatalf("password session reads A after deprovisioning: %d", rec.Code)
		}
		if _, ok := w.member(t, w.a, aliceID); ok {
			t.Fatal("still a member of A after deprovisioning")
		}
		if _, ok := w.member(t, w.b, aliceID); !ok {
			t.Fatal("deprovisioning in A removed the membership of B")
		}
		assertAudited(t, w.te, "scim.user.deprovision")
		if code, got := w.scim(t, w.tokA, w.a, "GET", "/Users/"+aliceID, ""); code != 200 || got["active"] != false {
			t.Fatalf("read after deactivate: %d %v", code, got)
		}
		if code, on := w.scim(t, w.tokA, w.a, "PATCH", "/Users/"+aliceID, oktaReactivate); code != 200 || on["active"] != true {
			t.Fatalf("okta reactivate: %d %v", code, on)
		}
		if _, ok := w.member(t, w.a, aliceID); !ok {
			t.Fatal("reactivation did not restore the membership")
		}

		code, bob := w.scim(t, w.tokA, w.a, "POST", "/Users", entraCreate)
		if code != http.StatusCreated || bob["userName"] != "bob@corp.example.com" || bob["externalId"] != "bob" {
			t.Fatalf("entra create: %d %v", code, bob)
		}
		bobID := bob["id"].(string)
		if code, got := w.scim(t, w.tokA, w.a, "PATCH", "/Users/"+bobID, entraRename); code != 200 || got["externalId"] != "bob-2" {
			t.Fatalf("entra attribute update: %d %v", code, got)
		}
		if code, got := w.scim(t, w.tokA, w.a, "PATCH", "/Users/"+bobID, entraDisable); code != 200 || got["active"] != false {
			t.Fatalf("entra disable: %d %v", code, got)
		}
		if _, ok := w.member(t, w.a, bobID); ok {
			t.Fatal("entra disable left the membership")
		}
		if code, _ := w.scim(t, w.tokA, w.a, "DELETE", "/Users/"+bobID, ""); code != http.StatusNoContent {
			t.Fatalf("delete: %d", code)
		}
		if code, got := w.scim(t, w.tokA, w.a, "GET", "/Users/"+bobID, ""); code != http.StatusNotFound || got["status"] != "404" {
			t.Fatalf("read after delete: %d %v", code, got)
		}
	})
}

// Groups are roles: membership in a group sets the role, in Okta's add and
// Entra ID's remove shapes; the owner cannot be changed or deprovisioned.
//
// Controls: AUTHZ-5, AUTHZ-1
func TestSCIMGroupsAreRoles(t *testing.T) {
	w := newSCIMWorld(t, bootstraptest.Backends[0])
	_, alice := w.scim(t, w.tokA, w.a, "POST", "/Users", oktaCreate)
	id := alice["id"].(string)
	code, groups := w.scim(t, w.tokA, w.a, "GET", `/Groups?filter=displayName%20eq%20%22admin%22`, "")
	if code != 200 || groups["totalResults"] != 1.0 {
		t.Fatalf("group lookup: %d %v", code, groups)
	}
	add := fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"members","value":[{"value":%q,"display":"alice@corp.example.com"}]}]}`, id)
	if code, g := w.scim(t, w.tokA, w.a, "PATCH", "/Groups/admin", add); code != 200 || len(g["members"].([]any)) != 1 {
		t.Fatalf("okta add member: %d %v", code, g)
	}
	if m, _ := w.member(t, w.a, id); m.Role != "admin" {
		t.Fatalf("role after group add: %q", m.Role)
	}
	remove := fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Remove","path":"members[value eq \"%s\"]"}]}`, id)
	if code, g := w.scim(t, w.tokA, w.a, "PATCH", "/Groups/admin", remove); code != 200 || len(g["members"].([]any)) != 0 {
		t.Fatalf("entra remove member: %d %v", code, g)
	}
	if m, _ := w.member(t, w.a, id); m.Role != "viewer" {
		t.Fatalf("role after group remove: %q", m.Role)
	}
	if code, e := w.scim(t, w.tokA, w.a, "POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"admin"}`); code != http.StatusConflict || e["scimType"] != "uniqueness" {
		t.Fatalf("create an existing role: %d %v", code, e)
	}
	if code, e := w.scim(t, w.tokA, w.a, "DELETE", "/Groups/admin", ""); code != http.StatusBadRequest || e["scimType"] != "mutability" {
		t.Fatalf("delete a role: %d %v", code, e)
	}

	owner := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"owner@corp.example.com","active":true}`
	_, o := w.scim(t, w.tokA, w.a, "POST", "/Users", owner)
	ownerID := o["id"].(string)
	if code, e := w.scim(t, w.tokA, w.a, "PATCH", "/Users/"+ownerID, oktaDeactivate); code != http.StatusBadRequest || e["scimType"] != "mutability" {
		t.Fatalf("deprovision the owner: %d %v", code, e)
	}
	if m, ok := w.member(t, w.a, ownerID); !ok || m.Role != "owner" {
		t.Fatalf("owner after refused deprovisioning: %+v %v", m, ok)
	}
	if rec := w.te.do(t, "GET", "/me", nil, bearer(w.ownerA.AccessToken)); rec.Code != 200 {
		t.Fatalf("owner's session after refused deprovisioning: %d", rec.Code)
	}
}

// A SCIM token reaches its own organization only; addresses outside the
// organization's verified domains are refused; bad bodies get SCIM 4xx
// errors; the discovery endpoints answer.
//
// Controls: AUTHZ-5, AUTHZ-3, AUTH-13, APP-3
func TestSCIMBoundaries(t *testing.T) {
	w := newSCIMWorld(t, bootstraptest.Backends[0])
	_, alice := w.scim(t, w.tokA, w.a, "POST", "/Users", oktaCreate)
	id := alice["id"].(string)
	for _, c := range []struct {
		name, tok, org, method, path string
	}{
		{"no token", "", w.a, "GET", "/Users"},
		{"unknown token", "ghscim_" + strings.Repeat("A", 43), w.a, "GET", "/Users"},
		{"B's token on A", w.tokB, w.a, "GET", "/Users/" + id},
		{"A's token on B", w.tokA, w.b, "GET", "/Users"},
		{"a session token", w.ownerA.AccessToken, w.a, "GET", "/Users"},
	} {
		if code, e := w.scim(t, c.tok, c.org, c.method, c.path, ""); code != http.StatusUnauthorized || e["status"] != "401" {
			t.Errorf("%s: %d %v", c.name, code, e)
		}
	}
	if code, _ := w.scim(t, w.tokB, w.b, "GET", "/Users/"+id, ""); code != http.StatusNotFound {
		t.Errorf("A's user through B: %d", code)
	}
	for _, c := range []struct{ name, body, scimType string }{
		{"another org's domain", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"eve@beta.example.com"}`, "invalidValue"},
		{"unverified domain", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"eve@elsewhere.example.com"}`, "invalidValue"},
		{"not an address", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"eve"}`, "invalidValue"},
		{"no userName", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"active":true}`, ""},
		{"not JSON", `{"schemas":`, "invalidSyntax"},
	} {
		code, e := w.scim(t, w.tokA, w.a, "POST", "/Users", c.body)
		if code != http.StatusBadRequest || c.scimType != "" && e["scimType"] != c.scimType {
			t.Errorf("%s: %d %v", c.name, code, e)
		}
	}
	big := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"x@corp.example.com","displayName":"` + strings.Repeat("a", 300<<10) + `"}`
	if code, _ := w.scim(t, w.tokA, w.a, "POST", "/Users", big); code != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized body: %d", code)
	}
	if code, e := w.scim(t, w.tokA, w.a, "PATCH", "/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"userName","value":"other@corp.example.com"}]}`); code != http.StatusBadRequest || e["scimType"] != "mutability" {
		t.Errorf("userName change: %d %v", code, e)
	}
	for _, p := range []string{"/ServiceProviderConfig", "/Schemas", "/ResourceTypes", "/Users?startIndex=1&count=1", "/Groups"} {
		if code, _ := w.scim(t, w.tokA, w.a, "GET", p, ""); code != 200 {
			t.Errorf("GET %s: %d", p, code)
		}
	}

	// Rotation: the old token stops working at once; deletion ends the new one.
	fresh := w.createToken(t, w.a, w.ownerA)
	if code, _ := w.scim(t, w.tokA, w.a, "GET", "/Users", ""); code != http.StatusUnauthorized {
		t.Errorf("rotated-out token: %d", code)
	}
	if rec := w.te.do(t, "DELETE", "/orgs/"+w.a+"/scim/token", nil, bearer(w.ownerA.AccessToken)); rec.Code != http.StatusNoContent {
		t.Fatalf("delete token: %d", rec.Code)
	}
	if code, _ := w.scim(t, fresh, w.a, "GET", "/Users", ""); code != http.StatusUnauthorized {
		t.Errorf("deleted token: %d", code)
	}
	assertAudited(t, w.te, "scim.token.delete")
}

// Only the owner manages the SCIM token.
//
// Controls: AUTHZ-5, AUTHZ-1
func TestSCIMTokenOwnerOnly(t *testing.T) {
	te := newTestEnv(t, bootstraptest.Backends[0])
	w := te.orgSetup(t)
	for _, who := range []string{"adminA", "viewerA", "ownerB"} {
		rec := te.do(t, "POST", "/orgs/"+w.A+"/scim/token", nil, bearer(w.tokens[who].AccessToken))
		if rec.Code != http.StatusForbidden && rec.Code != http.StatusNotFound {
			t.Errorf("%s creates a token: %d", who, rec.Code)
		}
	}
	rec := te.do(t, "GET", "/orgs/"+w.A+"/scim", nil, bearer(w.tokens["ownerA"].AccessToken))
	var st scimJSON
	extDecodeBody(t, rec, http.StatusOK, &st)
	if st.Enabled {
		t.Fatalf("status before any token: %+v", st)
	}
}

// Whatever bytes an identity provider sends to the user and group routes
// get an answer below 500 and never a panic.
//
// Controls: AUTHZ-5, APP-3
func FuzzSCIMRequests(f *testing.F) {
	for _, s := range []string{oktaCreate, oktaDeactivate, entraCreate, entraDisable, entraRename, `{}`, `[]`, `null`,
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"remove","path":"members[value eq 1]"}]}`,
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","value":{"members":"x"}}]}`,
		`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":{"a":1}}`} {
		f.Add(s)
	}
	w := newSCIMWorld(f, bootstraptest.Backends[0])
	_, alice := w.scim(f, w.tokA, w.a, "POST", "/Users", oktaCreate)
	id, _ := alice["id"].(string)
	f.Fuzz(func(t *testing.T, body string) {
		w.te.Env.Clock.Advance(time.Minute) // stay under the token's rate limit
		for _, r := range []struct{ method, path string }{
			{"POST", "/Users"}, {"PATCH", "/Users/" + id}, {"PUT", "/Users/" + id}, {"PATCH", "/Groups/admin"}, {"PUT", "/Groups/viewer"},
		} {
			h := http.Header{"Authorization": {"Bearer " + w.tokA}, "Content-Type": {"application/scim+json"}}
			rec := w.te.do(t, r.method, "/scim/v2/"+w.a+r.path, body, h)
			if rec.Code >= 500 {
				t.Fatalf("%s %s with %q: %d %s", r.method, r.path, body, rec.Code, rec.Body)
			}
		}
	})
}
