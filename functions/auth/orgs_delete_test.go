package auth

import (
	"net/http"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/bootstrap/bootstraptest"
	"github.com/gatehouse-dev/gatehouse/shared/envelope"
	"github.com/gatehouse-dev/gatehouse/shared/events"
	"github.com/gatehouse-dev/gatehouse/shared/events/eventstest"
	"github.com/gatehouse-dev/gatehouse/shared/store"
)

// A member leaves on their own; the owner cannot. Only the owner, recently
// authenticated and naming the organization, deletes it: its members lose
// access at once, another organization is untouched, the deletion is in
// the audit trail, and the former owner can then delete their account.
//
// Controls: AUTHZ-1, AUTHZ-3, AUTHZ-4, AUTH-12
func TestOrgLeaveAndDelete(t *testing.T) {
	backends(t, func(t *testing.T, b bootstraptest.Backend) {
		te := newTestEnv(t, b)
		w := te.orgSetup(t)
		tok := func(name string) http.Header { return bearer(w.tokens[name].AccessToken) }

		// Leaving.
		if rec := te.do(t, "POST", "/orgs/"+w.A+"/leave", nil, tok("ownerA")); rec.Code != http.StatusConflict || errorCode(rec) != "owner" {
			t.Fatalf("owner leaving: %d %s", rec.Code, rec.Body)
		}
		if rec := te.do(t, "POST", "/orgs/"+w.A+"/leave", nil, tok("memberB")); rec.Code != http.StatusForbidden {
			t.Fatalf("leaving an organization one is not in: %d %s", rec.Code, rec.Body)
		}
		if rec := te.do(t, "POST", "/orgs/"+w.A+"/leave", nil, tok("viewerA")); rec.Code != http.StatusNoContent {
			t.Fatalf("viewer leaving: %d %s", rec.Code, rec.Body)
		}
		if rec := te.do(t, "GET", "/orgs/"+w.A+"/members", nil, tok("viewerA")); rec.Code != http.StatusForbidden {
			t.Fatalf("former member still reads: %d", rec.Code)
		}

		// Deleting: owner only, step-up, the name as confirmation.
		confirm := map[string]string{"confirm": "Alpha"}
		for _, who := range []string{"adminA", "operatorA", "ownerB"} {
			if rec := te.do(t, "DELETE", "/orgs/"+w.A, confirm, tok(who)); rec.Code != http.StatusForbidden {
				t.Fatalf("%s deleting: %d %s", who, rec.Code, rec.Body)
			}
		}
		if rec := te.do(t, "DELETE", "/orgs/"+w.A, map[string]string{"confirm": "Beta"}, tok("ownerA")); rec.Code != http.StatusBadRequest {
			t.Fatalf("wrong confirmation: %d %s", rec.Code, rec.Body)
		}
		if rec := te.do(t, "DELETE", "/orgs/"+w.A, map[string]string{}, tok("ownerA")); rec.Code != http.StatusBadRequest {
			t.Fatalf("no confirmation: %d %s", rec.Code, rec.Body)
		}
		te.Env.Clock.Advance(11 * time.Minute)
		w.tokens["ownerA"] = te.extRefresh(t, w.tokens["ownerA"])
		for _, who := range []string{"adminA", "memberB"} {
			w.tokens[who] = te.extRefresh(t, w.tokens[who])
		}
		if rec := te.do(t, "DELETE", "/orgs/"+w.A, confirm, tok("ownerA")); rec.Code != http.StatusForbidden || errorCode(rec) != "reauthentication_required" {
			t.Fatalf("stale deletion: %d %s", rec.Code, rec.Body)
		}
		if _, err := te.Env.Store.Org(t.Context(), w.A); err != nil {
			t.Fatalf("refused deletions removed the organization: %v", err)
		}
		extDecodeBody(t, te.do(t, "POST", "/reauthenticate", map[string]string{"method": "password", "password": testPassword}, tok("ownerA")), http.StatusNoContent, nil)
		s, now := te.Env.Store, te.Env.Clock.Now()
		for _, c := range []store.Connection{{ID: "con-live"}, {ID: "con-gone"}} {
			c.Status = store.ConnectionActive
			at, err := te.Env.Keyring.Seal(t.Context(), envelope.PurposeCredential,
				envelope.Binding{Org: w.A, Record: c.ID, Field: "connections.access_token"}, []byte("token"))
			if err != nil {
				t.Fatal(err)
			}
			c.OrgID, c.Platform, c.Account, c.Scopes, c.AccessToken, c.TokenType = w.A, "google_ads", c.ID, []string{"read"}, at, "Bearer"
			c.CreatedBy, c.CreatedAt, c.UpdatedAt, c.StatusAt = w.ids["ownerA"], now, now, now
			if err := s.CreateConnection(t.Context(), c); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.SetConnectionStatus(t.Context(), w.A, "con-gone", store.ConnectionRevoked, "disconnected", now); err != nil {
			t.Fatal(err)
		}
		if rec := te.do(t, "DELETE", "/orgs/"+w.A, confirm, tok("ownerA")); rec.Code != http.StatusNoContent {
			t.Fatalf("delete: %d %s", rec.Code, rec.Body)
		}
		// The leave and the deletion announce every membership and live
		// connection that ended (docs/events.md).
		member := func(who string) string { return "org/" + w.A + "/member/" + w.ids[who] }
		eventstest.Require(t, s, events.OrgMemberRemoved, member("viewerA"), map[string]string{"user_id": w.ids["viewerA"], "role": "viewer", "by": "user"})
		eventstest.Require(t, s, events.OrgMemberRemoved, member("adminA"), map[string]string{"user_id": w.ids["adminA"], "role": "admin", "by": "api"})
		eventstest.Require(t, s, events.OrgMemberRemoved, member("ownerA"), map[string]string{"user_id": w.ids["ownerA"], "role": "owner", "by": "api"})
		eventstest.Require(t, s, events.ConnectionRevoked, "connection/con-live", map[string]string{"connection_id": "con-live",
			"user_id": w.ids["ownerA"], "org_id": w.A, "provider": "google_ads", "reason": "org_deleted"})
		for _, e := range eventstest.Outbox(t, s) {
			if e.Subject == "connection/con-gone" || e.Type == events.OrgMemberRemoved && e.Data["org_id"] == w.B {
				t.Fatalf("deleting %s announced %s", w.A, e)
			}
		}

		if rec := te.do(t, "GET", "/orgs/"+w.A+"/members", nil, tok("adminA")); rec.Code != http.StatusForbidden {
			t.Fatalf("member of the deleted organization reads: %d", rec.Code)
		}
		var list struct {
			Orgs []orgJSON `json:"orgs"`
		}
		extDecodeBody(t, te.do(t, "GET", "/orgs", nil, tok("ownerA")), http.StatusOK, &list)
		if len(list.Orgs) != 0 {
			t.Fatalf("former owner still lists %+v", list.Orgs)
		}
		if rec := te.do(t, "GET", "/orgs/"+w.B+"/members", nil, tok("memberB")); rec.Code != http.StatusOK {
			t.Fatalf("the other organization: %d", rec.Code)
		}
		if rec := te.do(t, "DELETE", "/orgs/"+w.A, confirm, tok("ownerA")); rec.Code != http.StatusForbidden {
			t.Fatalf("second deletion: %d %s", rec.Code, rec.Body)
		}
		te.orgAuditHas(t, w.A, "org.member.leave", "org.delete")
		if rec := te.do(t, "DELETE", "/me", nil, tok("ownerA")); rec.Code != http.StatusNoContent {
			t.Fatalf("former owner deleting their account: %d %s", rec.Code, rec.Body)
		}
	})
}
