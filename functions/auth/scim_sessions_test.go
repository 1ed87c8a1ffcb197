package auth

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/bootstrap/bootstraptest"
)

// signInVia starts a session of userID with methods through the session
// manager, as the OAuthCallback function does after a sign-in: ssoOrg is
// the organization whose single sign-on it was ("" for Google or GitHub).
func (te *testEnv) signInVia(t testing.TB, userID, ssoOrg string, methods ...string) tokens {
	t.Helper()
	rec := httptest.NewRecorder()
	r := httptest.NewRequest("POST", "/signin", nil)
	if err := te.Sessions.CompleteSSO(r.Context(), rec, r, userID, methods, ssoOrg); err != nil {
		t.Fatal(err)
	}
	return decodeTokens(t, rec)
}

// refresh rotates tk's refresh token and returns the new tokens.
func (te *testEnv) refresh(t testing.TB, tk tokens) tokens {
	t.Helper()
	return decodeTokens(t, te.do(t, "POST", "/token", map[string]string{"refresh_token": tk.RefreshToken}))
}

// expectCode fails t unless a GET of path with tk's access token answers code.
func (te *testEnv) expectCode(t testing.TB, what, path string, tk tokens, code int) {
	t.Helper()
	if rec := te.do(t, "GET", path, nil, bearer(tk.AccessToken)); rec.Code != code {
		t.Errorf("%s: GET %s = %d %s; want %d", what, path, rec.Code, rec.Body, code)
	}
}

// Attack: Alice is a member of A (provisioned by A's SCIM) and of B, and
// is signed in four ways: through A's SSO (then refreshed), through B's
// SSO, with her password and with Google. A's identity provider
// deprovisions her, first by PATCH active:false (Okta's shape), then,
// reactivated and signed in through A's SSO again, by DELETE. Each time
// exactly her sessions from A's SSO end, before the answer: the access
// token is refused in the next request and its refresh token too. B's
// SSO session and membership, the password and the Google session keep
// working; the password session no longer reaches A's routes (the
// membership check refuses it: 403), only her own account and B's.
// Bob, another member of A signed in through A's SSO, is untouched.
// Before sessions recorded their organization, deprovisioning ended all
// four of Alice's sessions.
//
// Controls: AUTHZ-5, AUTH-10, AUTH-13
func TestSCIMDeprovisionEndsOnlyThatOrgsSSOSessions(t *testing.T) {
	backends(t, func(t *testing.T, b bootstraptest.Backend) {
		w := newSCIMWorld(t, b)
		te := w.te
		_, alice := w.scim(t, w.tokA, w.a, "POST", "/Users", oktaCreate)
		aliceID := alice["id"].(string)
		_, bob := w.scim(t, w.tokA, w.a, "POST", "/Users", entraCreate)
		bobID := bob["id"].(string)
		pwd := w.signIn(t, "alice@corp.example.com")
		te.orgInviteAccept(t, w.b, w.ownerB.AccessToken, "alice@corp.example.com", "viewer", pwd.AccessToken)

		ssoA := te.refresh(t, te.signInVia(t, aliceID, w.a, "fed", "sso"))
		ssoB := te.signInVia(t, aliceID, w.b, "fed", "sso")
		google := te.signInVia(t, aliceID, "", "fed")
		bobSSO := te.signInVia(t, bobID, w.a, "fed", "sso")
		orgA, orgB := "/orgs/"+w.a+"/members", "/orgs/"+w.b+"/members"
		for name, tk := range map[string]tokens{"A's SSO": ssoA, "password": pwd, "Google": google} {
			te.expectCode(t, name+" before", orgA, tk, http.StatusOK)
		}
		te.expectCode(t, "B's SSO before", orgB, ssoB, http.StatusOK)

		code, off := w.scim(t, w.tokA, w.a, "PATCH", "/Users/"+aliceID, oktaDeactivate)
		if code != http.StatusOK || off["active"] != false {
			t.Fatalf("deactivate: %d %v", code, off)
		}
		te.expectCode(t, "A's SSO access token after deprovisioning", "/me", ssoA, http.StatusUnauthorized)
		if rec := te.do(t, "POST", "/token", map[string]string{"refresh_token": ssoA.RefreshToken}); rec.Code != http.StatusUnauthorized {
			t.Errorf("A's SSO refresh after deprovisioning: %d", rec.Code)
		}
		if s, err := te.Env.Store.Session(t.Context(), ssoA.SessionID); err != nil || s.RevokeReason != "scim_deprovisioned" {
			t.Errorf("A's SSO session: %+v, %v", s, err)
		}
		checkSurvivors := func(stage string, ssoB, pwd, google tokens) {
			t.Helper()
			te.expectCode(t, stage+": B's SSO session on B", orgB, ssoB, http.StatusOK)
			te.expectCode(t, stage+": password session on B", orgB, pwd, http.StatusOK)
			te.expectCode(t, stage+": password session on her account", "/me", pwd, http.StatusOK)
			te.expectCode(t, stage+": Google session on her account", "/me", google, http.StatusOK)
			te.expectCode(t, stage+": password session on A", orgA, pwd, http.StatusForbidden)
			te.expectCode(t, stage+": B's SSO session on A", orgA, ssoB, http.StatusForbidden)
			te.expectCode(t, stage+": Bob's A SSO session", orgA, bobSSO, http.StatusOK)
			if _, ok := w.member(t, w.b, aliceID); !ok {
				t.Errorf("%s: the membership of B is gone", stage)
			}
			if _, ok := w.member(t, w.a, aliceID); ok {
				t.Errorf("%s: still a member of A", stage)
			}
		}
		checkSurvivors("deactivated", ssoB, pwd, google)
		ssoB, pwd, google = te.refresh(t, ssoB), te.refresh(t, pwd), te.refresh(t, google)
		checkSurvivors("deactivated, refreshed", ssoB, pwd, google)
		if got := lastAudit(t, te, "scim.user.deprovision", aliceID); got["sessions_ended"] != 1.0 {
			t.Errorf("deprovision audit: %v; want sessions_ended 1", got)
		}

		if code, _ := w.scim(t, w.tokA, w.a, "PATCH", "/Users/"+aliceID, oktaReactivate); code != http.StatusOK {
			t.Fatalf("reactivate: %d", code)
		}
		ssoA = te.signInVia(t, aliceID, w.a, "fed", "sso")
		te.expectCode(t, "A's SSO after reactivation", orgA, ssoA, http.StatusOK)
		if code, _ := w.scim(t, w.tokA, w.a, "DELETE", "/Users/"+aliceID, ""); code != http.StatusNoContent {
			t.Fatalf("delete: %d", code)
		}
		te.expectCode(t, "A's SSO access token after DELETE", "/me", ssoA, http.StatusUnauthorized)
		checkSurvivors("deleted", ssoB, pwd, google)
	})
}

// An organization's SSO sign-in that asks for a second factor (an MFA
// token, then TOTP) starts a session that records the organization, so
// A's deprovisioning ends it like any other of A's SSO sessions.
//
// Controls: AUTHZ-5, AUTH-10
func TestSCIMDeprovisionEndsSSOSessionsAfterMFA(t *testing.T) {
	w := newSCIMWorld(t, bootstraptest.Backends[0])
	te := w.te
	_, alice := w.scim(t, w.tokA, w.a, "POST", "/Users", oktaCreate)
	aliceID := alice["id"].(string)
	pwd := w.signIn(t, "alice@corp.example.com")
	totp := te.mfaEnrollTOTP(t, pwd.AccessToken)
	te.Env.Clock.Advance(time.Minute)
	tok, err := te.Sessions.IssueSSOMFAToken(t.Context(), aliceID, []string{"fed", "sso"}, w.a)
	if err != nil {
		t.Fatal(err)
	}
	sso := decodeTokens(t, te.do(t, "POST", "/login/totp", map[string]string{"mfa_token": tok, "code": te.mfaCode(t, totp, 0)}))
	if s, err := te.Env.Store.Session(t.Context(), sso.SessionID); err != nil || s.SSOOrgID != w.a || s.AuthLevel != 2 {
		t.Fatalf("session after SSO and TOTP: %+v, %v", s, err)
	}
	if code, _ := w.scim(t, w.tokA, w.a, "PATCH", "/Users/"+aliceID, oktaDeactivate); code != http.StatusOK {
		t.Fatalf("deactivate: %d", code)
	}
	te.expectCode(t, "SSO+TOTP session after deprovisioning", "/me", sso, http.StatusUnauthorized)
	te.expectCode(t, "password session after deprovisioning", "/me", pwd, http.StatusOK)
}

// lastAudit returns the metadata of the last audit event action on user.
func lastAudit(t testing.TB, te *testEnv, action, userID string) map[string]any {
	t.Helper()
	events, err := te.Env.Store.AuditEvents(t.Context(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for i := len(events) - 1; i >= 0; i-- {
		if events[i].Action == action && events[i].Target == "user:"+userID {
			var meta map[string]any
			if err := json.Unmarshal([]byte(events[i].Metadata), &meta); err != nil {
				t.Fatal(err)
			}
			return meta
		}
	}
	t.Fatalf("no %s event for %s", action, userID)
	return nil
}

// An owner who removes a member, or revokes one in an access review, ends
// that member's sessions from the organization's SSO at once, as SCIM
// deprovisioning does, and so does a member who leaves: the access token
// is refused in the next request. (Before, leaving kept them.)
// The member's own sessions (password here) keep their account, no longer
// the organization's routes, and another organization's SSO session is
// untouched. The audit event counts the sessions ended.
//
// Controls: AUTHZ-5, AUTH-10
func TestOrgRemovalEndsThatOrgsSSOSessions(t *testing.T) {
	backends(t, func(t *testing.T, b bootstraptest.Backend) {
		te := newTestEnv(t, b)
		w := te.orgSetup(t)
		owner := w.tokens["ownerA"]
		orgA := "/orgs/" + w.A + "/members"
		for _, c := range []struct{ name, user, action string }{
			{"removal", "viewerA", "org.member.remove"},
			{"access review", "adminA", "org.access_review.revoke"},
			{"leave", "operatorA", "org.member.leave"},
		} {
			id := w.ids[c.user]
			sso := te.signInVia(t, id, w.A, "fed", "sso")
			other := te.signInVia(t, id, w.B, "fed", "sso")
			pwd := w.tokens[c.user]
			te.expectCode(t, c.name+": SSO session before", orgA, sso, http.StatusOK)
			switch c.name {
			case "leave":
				if rec := te.do(t, "POST", "/orgs/"+w.A+"/leave", nil, bearer(pwd.AccessToken)); rec.Code != http.StatusNoContent {
					t.Fatalf("leave: %d %s", rec.Code, rec.Body)
				}
			case "removal":
				if rec := te.do(t, "DELETE", orgA+"/"+id, nil, bearer(owner.AccessToken)); rec.Code != http.StatusNoContent {
					t.Fatalf("remove: %d %s", rec.Code, rec.Body)
				}
			default:
				var rep struct {
					ID string `json:"id"`
				}
				extDecodeBody(t, te.do(t, "POST", "/orgs/"+w.A+"/access-reviews", nil, bearer(owner.AccessToken)), http.StatusCreated, &rep)
				rec := te.do(t, "POST", "/orgs/"+w.A+"/access-reviews/"+rep.ID+"/decisions",
					map[string]string{"user_id": id, "decision": "revoke"}, bearer(owner.AccessToken))
				if rec.Code != http.StatusOK {
					t.Fatalf("revoke: %d %s", rec.Code, rec.Body)
				}
			}
			te.expectCode(t, c.name+": SSO session after", "/me", sso, http.StatusUnauthorized)
			if rec := te.do(t, "POST", "/token", map[string]string{"refresh_token": sso.RefreshToken}); rec.Code != http.StatusUnauthorized {
				t.Errorf("%s: SSO refresh after: %d", c.name, rec.Code)
			}
			te.expectCode(t, c.name+": password session on the account", "/me", pwd, http.StatusOK)
			te.expectCode(t, c.name+": password session on the organization", orgA, pwd, http.StatusForbidden)
			te.expectCode(t, c.name+": another organization's SSO session", "/me", other, http.StatusOK)
			if got := lastAudit(t, te, c.action, id); got["sessions_ended"] != 1.0 {
				t.Errorf("%s audit: %v; want sessions_ended 1", c.name, got)
			}
		}
	})
}

// Deleting an organization ends every session its SSO started, a
// member's and a former member's alike (the former member's from before
// the leave fix), at once; the members' other sessions and another
// organization's SSO sessions stay. The audit event counts the users,
// and each gets one session.revoked event. (Before, the sessions outlived
// the organization.)
//
// Controls: AUTHZ-5, AUTH-10
func TestOrgDeletionEndsItsSSOSessions(t *testing.T) {
	backends(t, func(t *testing.T, b bootstraptest.Backend) {
		te := newTestEnv(t, b)
		w := te.orgSetup(t)
		viewer, memberB := w.ids["viewerA"], w.ids["memberB"]
		sso := te.signInVia(t, viewer, w.A, "fed", "sso")
		strayA := te.signInVia(t, memberB, w.A, "fed", "sso") // not a member of A now
		ssoB := te.signInVia(t, memberB, w.B, "fed", "sso")
		te.expectCode(t, "SSO session before", "/me", sso, http.StatusOK)
		// The owner sees which organization's SSO started each session.
		var list struct {
			Sessions []sessionJSON `json:"sessions"`
		}
		extDecodeBody(t, te.do(t, "GET", "/sessions", nil, bearer(sso.AccessToken)), http.StatusOK, &list)
		byCurrent := map[bool]string{}
		for _, s := range list.Sessions {
			byCurrent[s.Current] = s.SSOOrgID
		}
		if len(list.Sessions) != 2 || byCurrent[true] != w.A || byCurrent[false] != "" {
			t.Errorf("GET /sessions: %+v; want the SSO session with sso_org_id %s and the password one without", list.Sessions, w.A)
		}
		rec := te.do(t, "DELETE", "/orgs/"+w.A, map[string]string{"confirm": "Alpha"}, bearer(w.tokens["ownerA"].AccessToken))
		if rec.Code != http.StatusNoContent {
			t.Fatalf("delete: %d %s", rec.Code, rec.Body)
		}
		te.expectCode(t, "member's SSO session after", "/me", sso, http.StatusUnauthorized)
		te.expectCode(t, "former member's SSO session after", "/me", strayA, http.StatusUnauthorized)
		te.expectCode(t, "member's password session", "/me", w.tokens["viewerA"], http.StatusOK)
		te.expectCode(t, "another organization's SSO session", "/me", ssoB, http.StatusOK)
		events, err := te.Env.Store.AuditEvents(t.Context(), 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		var meta map[string]any
		for _, e := range events {
			if e.Action == "org.delete" {
				if err := json.Unmarshal([]byte(e.Metadata), &meta); err != nil {
					t.Fatal(err)
				}
			}
		}
		if meta["sso_session_users"] != 2.0 {
			t.Errorf("org.delete audit: %v; want sso_session_users 2", meta)
		}
		for _, u := range []string{viewer, memberB} {
			got := emitted(t, te.Env.Store, "user/"+u)
			n := 0
			for _, e := range got {
				if e == `session.revoked {"user_id":"`+u+`","reason":"org_deleted"}` {
					n++
				}
			}
			if n != 1 {
				t.Errorf("events about %s: %q; want one session.revoked for org_deleted", u, got)
			}
		}
	})
}
