package auth

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/accessreview"
	"github.com/gatehouse-dev/gatehouse/shared/bootstrap/bootstraptest"
	"github.com/gatehouse-dev/gatehouse/shared/events"
	"github.com/gatehouse-dev/gatehouse/shared/events/eventstest"
	"github.com/gatehouse-dev/gatehouse/shared/store"
)

// An owner's access review lists every member with role, last sign-in,
// second factors and identities, flags members not seen in 90 days and
// lists pending invitations; confirming and revoking are audited, a
// revocation removes the membership, the owner cannot be revoked; only the
// owner runs it; completing it lets the next one start; operators see
// organizations whose review is overdue.
//
// Controls: AUTHZ-5, AUDIT-1
func TestAccessReview(t *testing.T) {
	backends(t, func(t *testing.T, b bootstraptest.Backend) {
		ae := newAdminEnv(t, b)
		te := ae.testEnv
		w := te.orgSetup(t)
		owner := w.tokens["ownerA"]
		te.mfaEnrollTOTP(t, w.tokens["adminA"].AccessToken)
		te.orgInvite(t, w.A, owner.AccessToken, "newcomer@example.com", "viewer")

		if rec := te.do(t, "POST", "/orgs/"+w.A+"/access-reviews", nil, bearer(w.tokens["adminA"].AccessToken)); rec.Code != http.StatusForbidden {
			t.Fatalf("admin starts a review: %d", rec.Code)
		}
		var rep accessreview.Report
		extDecodeBody(t, te.do(t, "POST", "/orgs/"+w.A+"/access-reviews", nil, bearer(owner.AccessToken)), http.StatusCreated, &rep)
		if len(rep.Members) != 4 || len(rep.Invitations) != 1 || rep.Invitations[0].Email != "newcomer@example.com" {
			t.Fatalf("review %+v", rep)
		}
		byName := map[string]accessreview.Member{}
		for _, m := range rep.Members {
			byName[strings.TrimSuffix(m.Email, "@example.com")] = m
			if m.LastSignIn == nil || m.Stale {
				t.Fatalf("member just signed in: %+v", m)
			}
		}
		if !slices.Equal(byName["admina"].MFA, []string{"totp"}) || byName["admina"].Role != "admin" || len(byName["viewera"].MFA) != 0 {
			t.Fatalf("members %+v", byName)
		}
		// A member linked to the organization's SAML identity provider is
		// shown as signing in through its SSO.
		now := te.Env.Now()
		if err := te.Env.Store.PutSAMLConfig(t.Context(), store.SAMLConfig{ID: "saml-a", OrgID: w.A, IDPEntityID: "https://idp.example.net",
			IDPMetadata: "<md/>", UpdatedBy: w.ids["ownerA"], CreatedAt: now, UpdatedAt: now}); err != nil {
			t.Fatal(err)
		}
		if err := te.Env.Store.LinkIdentity(t.Context(), store.Identity{ID: "idn-saml", Provider: "saml:" + w.A, Subject: "viewer",
			UserID: w.ids["viewerA"], CreatedAt: now}); err != nil {
			t.Fatal(err)
		}
		var withSAML accessreview.Report
		extDecodeBody(t, te.do(t, "GET", "/orgs/"+w.A+"/access-reviews/current", nil, bearer(owner.AccessToken)), http.StatusOK, &withSAML)
		for _, m := range withSAML.Members {
			if want := m.UserID == w.ids["viewerA"]; m.SSO != want {
				t.Fatalf("SSO flag of %s = %v, want %v", m.Email, m.SSO, want)
			}
		}
		if msg := te.lastMessage(t, orgEmail("ownerA"), accessreview.KindAccessReview); len(msg.Links) != 1 || !strings.Contains(msg.Links[0], "org="+w.A) {
			t.Fatalf("owner's notice %+v", msg)
		}
		var again accessreview.Report
		extDecodeBody(t, te.do(t, "POST", "/orgs/"+w.A+"/access-reviews", nil, bearer(owner.AccessToken)), http.StatusOK, &again)
		if again.ID != rep.ID {
			t.Fatalf("second start opened another review: %s", again.ID)
		}

		te.Env.Clock.Advance(100 * 24 * time.Hour)
		owner = decodeTokens(t, te.login(t, orgEmail("ownerA"), testPassword))
		var later accessreview.Report
		extDecodeBody(t, te.do(t, "GET", "/orgs/"+w.A+"/access-reviews/current", nil, bearer(owner.AccessToken)), http.StatusOK, &later)
		stale := 0
		for _, m := range later.Members {
			if m.Stale {
				stale++
			}
		}
		if stale != 3 {
			t.Fatalf("stale members after 100 days: %d of %+v", stale, later.Members)
		}

		decide := func(user, decision string) *http.Response {
			return te.do(t, "POST", "/orgs/"+w.A+"/access-reviews/"+rep.ID+"/decisions",
				map[string]string{"user_id": w.ids[user], "decision": decision}, bearer(owner.AccessToken)).Result()
		}
		if resp := decide("viewerA", "revoke"); resp.StatusCode != http.StatusOK {
			t.Fatalf("revoke: %d", resp.StatusCode)
		}
		if resp := decide("adminA", "confirm"); resp.StatusCode != http.StatusOK {
			t.Fatalf("confirm: %d", resp.StatusCode)
		}
		if resp := decide("ownerA", "revoke"); resp.StatusCode != http.StatusConflict {
			t.Fatalf("revoke the owner: %d", resp.StatusCode)
		}
		if resp := decide("ownerB", "confirm"); resp.StatusCode != http.StatusNotFound {
			t.Fatalf("decide on another organization's member: %d", resp.StatusCode)
		}
		if _, err := te.Env.Store.Member(t.Context(), w.A, w.ids["viewerA"]); err == nil {
			t.Fatal("revoked member is still a member")
		}
		// The revocation is announced; the confirmation changes nothing.
		eventstest.Require(t, te.Env.Store, events.OrgMemberRemoved, "org/"+w.A+"/member/"+w.ids["viewerA"],
			map[string]string{"org_id": w.A, "user_id": w.ids["viewerA"], "role": "viewer", "by": "api"})
		for _, e := range eventstest.Outbox(t, te.Env.Store) {
			if e.Type == events.OrgMemberRemoved && e.Data["user_id"] != w.ids["viewerA"] {
				t.Fatalf("a confirmed or refused decision announced %s", e)
			}
		}
		assertAudited(t, te, "org.access_review.revoke")

		// Operators see the organization as overdue until a review completes.
		var overdue struct {
			Overdue []adminOverdueJSON `json:"overdue"`
		}
		decodeJSON(t, ae.call(t, "GET", "/admin/access-reviews/overdue", nil), http.StatusOK, &overdue)
		if !slices.ContainsFunc(overdue.Overdue, func(o adminOverdueJSON) bool { return o.OrgID == w.A && o.OpenSince != nil }) {
			t.Fatalf("overdue %+v", overdue)
		}
		var done accessreview.Report
		extDecodeBody(t, te.do(t, "POST", "/orgs/"+w.A+"/access-reviews/"+rep.ID+"/complete", nil, bearer(owner.AccessToken)), http.StatusOK, &done)
		if done.CompletedAt == nil {
			t.Fatalf("completed review %+v", done)
		}
		decodeJSON(t, ae.call(t, "GET", "/admin/access-reviews/overdue", nil), http.StatusOK, &overdue)
		if slices.ContainsFunc(overdue.Overdue, func(o adminOverdueJSON) bool { return o.OrgID == w.A }) {
			t.Fatalf("reviewed organization still overdue: %+v", overdue)
		}
		if rec := te.do(t, "GET", "/orgs/"+w.A+"/access-reviews/current", nil, bearer(owner.AccessToken)); rec.Code != http.StatusNotFound {
			t.Fatalf("current review after completion: %d", rec.Code)
		}
		if resp := decide("adminA", "confirm"); resp.StatusCode != http.StatusNotFound {
			t.Fatalf("decision in a completed review: %d", resp.StatusCode)
		}
		assertAudited(t, te, "org.access_review.complete")
	})
}
