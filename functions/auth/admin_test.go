package auth

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gatehouse-dev/gatehouse/shared/bootstrap/bootstraptest"
	"github.com/gatehouse-dev/gatehouse/shared/events"
	"github.com/gatehouse-dev/gatehouse/shared/events/eventstest"
	"github.com/gatehouse-dev/gatehouse/shared/logging"
	"github.com/gatehouse-dev/gatehouse/shared/notify"
	"github.com/gatehouse-dev/gatehouse/shared/oauthtest"
	"github.com/gatehouse-dev/gatehouse/shared/operator"
	"github.com/gatehouse-dev/gatehouse/shared/session"
	"github.com/gatehouse-dev/gatehouse/shared/store"
)

const (
	adminAudience = "https://gatehouse.example.com/auth/admin"
	adminSA       = "support@gatehouse-prod.iam.gserviceaccount.com"
	adminDevToken = "local-admin-token-for-tests"
)

// adminEnv is the auth function with the admin API trusting idp's ID
// tokens for adminSA, and the dev token.
type adminEnv struct {
	*testEnv
	idp *oauthtest.Server
}

func newAdminEnv(t *testing.T, b bootstraptest.Backend) *adminEnv {
	t.Helper()
	idp := oauthtest.New(t, oauthtest.Options{})
	te := newTestEnv(t, b, func(c *Config, _ *Extension) {
		c.Admin = operator.Config{Audience: adminAudience, Accounts: []string{adminSA},
			Issuer: idp.Issuer(), JWKSURL: idp.URL + "/jwks", DevToken: logging.NewSecret(adminDevToken)}
	})
	te.Env.Logs.Plant(adminDevToken)
	return &adminEnv{testEnv: te, idp: idp}
}

// idToken returns an ID token for adminSA signed by the trusted issuer,
// changed by mod.
func (ae *adminEnv) idToken(t testing.TB, mod func(map[string]any)) string {
	t.Helper()
	now := ae.Env.Clock.Now()
	c := map[string]any{"iss": ae.idp.Issuer(), "aud": adminAudience, "sub": "10987654321", "email": adminSA,
		"email_verified": true, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	if mod != nil {
		mod(c)
	}
	tok, err := ae.idp.SignIDToken(c)
	if err != nil {
		t.Fatal(err)
	}
	ae.Env.Logs.Plant(tok)
	return tok
}

// call sends an admin request as adminSA with a reason.
func (ae *adminEnv) call(t testing.TB, method, path string, body any) *httptest.ResponseRecorder {
	t.Helper()
	return ae.do(t, method, path, body, http.Header{"Authorization": {"Bearer " + ae.idToken(t, nil)},
		ReasonHeader: {"ticket SUP-1234: user request"}})
}

func decodeJSON(t testing.TB, rec *httptest.ResponseRecorder, status int, v any) {
	t.Helper()
	if rec.Code != status {
		t.Fatalf("status %d, want %d: %s", rec.Code, status, rec.Body)
	}
	if v != nil {
		if err := json.Unmarshal(rec.Body.Bytes(), v); err != nil {
			t.Fatal(err)
		}
	}
}

// Only an allowed operator, with a Google-style ID token for the admin
// audience (or the dev token) and a reason, reaches the admin API: a
// user's access token or session cookie, another service account, a
// forged or expired token, another audience and a missing reason are all
// refused before anything is read, and nothing is audited for them.
//
// Controls: AUTHZ-2, AUDIT-1
func TestAdminAuthentication(t *testing.T) {
	ae := newAdminEnv(t, bootstraptest.Backends[0])
	user := ae.signUp(t, "ann@example.com", testPassword)
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	now := ae.Env.Clock.Now()
	forged, err := oauthtest.SignWithKey(other, map[string]any{"iss": ae.idp.Issuer(), "aud": adminAudience,
		"email": adminSA, "email_verified": true, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()})
	if err != nil {
		t.Fatal(err)
	}
	reason := "ticket SUP-1: checking an account"
	hdr := func(auth string, extra ...string) http.Header {
		h := http.Header{ReasonHeader: {reason}}
		if auth != "" {
			h.Set("Authorization", auth)
		}
		for i := 0; i+1 < len(extra); i += 2 {
			h.Set(extra[i], extra[i+1])
		}
		return h
	}
	for _, tc := range []struct {
		name   string
		h      http.Header
		status int
		code   string
	}{
		{"operator ID token", hdr("Bearer " + ae.idToken(t, nil)), http.StatusOK, ""},
		{"dev token", hdr("Bearer " + adminDevToken), http.StatusOK, ""},
		{"no credential", hdr(""), http.StatusUnauthorized, "operator_unauthenticated"},
		{"user access token", hdr("Bearer " + user.AccessToken), http.StatusUnauthorized, "operator_unauthenticated"},
		{"user session cookie", hdr("", "Cookie", session.AccessCookie+"="+user.AccessToken, session.ClientHeader, "browser"),
			http.StatusUnauthorized, "operator_unauthenticated"},
		{"wrong service account", hdr("Bearer " + ae.idToken(t, func(c map[string]any) {
			c["email"] = "intruder@gatehouse-prod.iam.gserviceaccount.com"
		})), http.StatusUnauthorized, "operator_unauthenticated"},
		{"forged ID token", hdr("Bearer " + forged), http.StatusUnauthorized, "operator_unauthenticated"},
		{"wrong audience", hdr("Bearer " + ae.idToken(t, func(c map[string]any) {
			c["aud"] = "https://gatehouse.example.com/oauth"
		})), http.StatusUnauthorized, "operator_unauthenticated"},
		{"expired ID token", hdr("Bearer " + ae.idToken(t, func(c map[string]any) {
			c["exp"] = now.Add(-time.Minute).Unix()
		})), http.StatusUnauthorized, "operator_unauthenticated"},
		{"missing reason", http.Header{"Authorization": {"Bearer " + ae.idToken(t, nil)}}, http.StatusBadRequest, "reason_required"},
		{"blank reason", hdr("Bearer "+ae.idToken(t, nil), ReasonHeader, "  "), http.StatusBadRequest, "reason_required"},
		{"reason with control characters", hdr("Bearer "+ae.idToken(t, nil), ReasonHeader, "ok\x01then"), http.StatusBadRequest, "reason_required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := ae.do(t, "GET", "/admin/users?email=ann", nil, tc.h)
			if rec.Code != tc.status || (tc.code != "" && errorCode(rec) != tc.code) {
				t.Fatalf("status %d code %q, want %d %q: %s", rec.Code, errorCode(rec), tc.status, tc.code, rec.Body)
			}
			if tc.status == http.StatusOK && strings.Contains(rec.Body.String(), "argon2") {
				t.Fatalf("admin answer holds a password hash: %s", rec.Body)
			}
		})
	}
	ctx := context.Background()
	for actor, want := range map[string]int{"operator:" + adminSA: 1, "operator:" + operator.DevOperator: 1} {
		ae.Env.IntegrateAudit(t)
		evs, err := ae.Env.Store.ActorAuditEvents(ctx, actor, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != want {
			t.Fatalf("%s has %d audit events, want %d (only the accepted calls)", actor, len(evs), want)
		}
		if evs[0].Action != "admin.user.search" || !strings.Contains(string(evs[0].Metadata), reason) {
			t.Fatalf("audit event %+v lacks the action or the reason", evs[0])
		}
	}
}

// userID returns the id of the account with email.
func (ae *adminEnv) userID(t testing.TB, email string) string {
	t.Helper()
	u, err := ae.Env.Store.UserByEmail(context.Background(), email)
	if err != nil {
		t.Fatal(err)
	}
	return u.ID
}

// Controls: AUTH-6, AUTH-14, DATA-1, AUDIT-1
func TestAdminUserOperations(t *testing.T) {
	backends(t, func(t *testing.T, b bootstraptest.Backend) {
		ae := newAdminEnv(t, b)
		ctx := context.Background()
		tk := ae.signUp(t, "ann@example.com", testPassword)
		ae.signUp(t, "anna@example.com", testPassword)
		id := ae.userID(t, "ann@example.com")

		var list struct {
			Users []adminUserJSON `json:"users"`
		}
		decodeJSON(t, ae.call(t, "GET", "/admin/users?email=ANN", nil), http.StatusOK, &list)
		if len(list.Users) != 2 || list.Users[0].Email != "ann@example.com" || !list.Users[0].HasPassword {
			t.Fatalf("search ann = %+v", list.Users)
		}
		decodeJSON(t, ae.call(t, "GET", "/admin/users?id="+id, nil), http.StatusOK, &list)
		if len(list.Users) != 1 || list.Users[0].ID != id {
			t.Fatalf("search by id = %+v", list.Users)
		}
		var detail adminUserDetailJSON
		rec := ae.call(t, "GET", "/admin/users/"+id, nil)
		decodeJSON(t, rec, http.StatusOK, &detail)
		if detail.ActiveSessions != 1 || detail.Email != "ann@example.com" || strings.Contains(rec.Body.String(), "$argon2") {
			t.Fatalf("read = %s", rec.Body)
		}
		if rec := ae.call(t, "GET", "/admin/users/nobody", nil); rec.Code != http.StatusNotFound {
			t.Fatalf("read unknown: %d", rec.Code)
		}

		t.Run("disable ends sessions and sign-in", func(t *testing.T) {
			decodeJSON(t, ae.call(t, "POST", "/admin/users/"+id+"/disable", nil), http.StatusOK, &detail)
			if detail.DisabledAt == nil {
				t.Fatal("disabled_at not set")
			}
			if rec := ae.do(t, "GET", "/me", nil, bearer(tk.AccessToken)); rec.Code != http.StatusUnauthorized {
				t.Fatalf("/me after disable: %d", rec.Code)
			}
			if rec := ae.do(t, "POST", "/token", map[string]string{"refresh_token": tk.RefreshToken}); rec.Code == http.StatusOK {
				t.Fatal("refresh after disable succeeded")
			}
			if rec := ae.login(t, "ann@example.com", testPassword); rec.Code != http.StatusForbidden || errorCode(rec) != "account_disabled" {
				t.Fatalf("login while disabled: %d %s", rec.Code, rec.Body)
			}
			decodeJSON(t, ae.call(t, "POST", "/admin/users/"+id+"/enable", nil), http.StatusOK, &detail)
			if detail.DisabledAt != nil {
				t.Fatal("still disabled after enable")
			}
			tk = decodeTokens(t, ae.login(t, "ann@example.com", testPassword))
		})

		t.Run("end all sessions", func(t *testing.T) {
			if rec := ae.call(t, "POST", "/admin/users/"+id+"/sessions/revoke", nil); rec.Code != http.StatusNoContent {
				t.Fatalf("revoke: %d %s", rec.Code, rec.Body)
			}
			if rec := ae.do(t, "GET", "/me", nil, bearer(tk.AccessToken)); rec.Code != http.StatusUnauthorized {
				t.Fatalf("/me after revoke: %d", rec.Code)
			}
			tk = decodeTokens(t, ae.login(t, "ann@example.com", testPassword))
		})

		t.Run("reset MFA", func(t *testing.T) {
			ae.mfaEnrollTOTP(t, tk.AccessToken)
			decodeJSON(t, ae.call(t, "GET", "/admin/users/"+id, nil), http.StatusOK, &detail)
			if !detail.MFA.TOTP || detail.MFA.RecoveryCodesLeft == 0 {
				t.Fatalf("before reset: %+v", detail.MFA)
			}
			if rec := ae.call(t, "POST", "/admin/users/"+id+"/mfa/reset", nil); rec.Code != http.StatusNoContent {
				t.Fatalf("reset: %d %s", rec.Code, rec.Body)
			}
			decodeJSON(t, ae.call(t, "GET", "/admin/users/"+id, nil), http.StatusOK, &detail)
			if detail.MFA != (adminMFAJSON{}) || detail.ActiveSessions != 0 {
				t.Fatalf("after reset: %+v, %d sessions", detail.MFA, detail.ActiveSessions)
			}
			if m := ae.lastMessage(t, "ann@example.com", notify.KindAlert); !strings.Contains(m.Subject, "reset") {
				t.Fatalf("notice %q", m.Subject)
			}
			// Signing in needs the password alone again.
			tk = decodeTokens(t, ae.login(t, "ann@example.com", testPassword))
		})

		t.Run("resend verification", func(t *testing.T) {
			if rec := ae.call(t, "POST", "/admin/users/"+id+"/verification", nil); rec.Code != http.StatusConflict {
				t.Fatalf("verified user: %d", rec.Code)
			}
			now := ae.Env.Clock.Now()
			if err := ae.Env.Store.CreateUser(ctx, store.User{ID: "unproven", Email: "bob@example.com", Name: "Bob",
				CreatedAt: now, UpdatedAt: now}); err != nil {
				t.Fatal(err)
			}
			if rec := ae.call(t, "POST", "/admin/users/unproven/verification", nil); rec.Code != http.StatusAccepted {
				t.Fatalf("resend: %d %s", rec.Code, rec.Body)
			}
			tok := linkToken(t, ae.lastMessage(t, "bob@example.com", notify.KindEmailVerification))
			ae.Env.Logs.Plant(tok)
			decodeTokens(t, ae.do(t, "POST", "/magic-link/verify", map[string]string{"token": tok}))
			if u, _ := ae.Env.Store.User(ctx, "unproven"); u.EmailVerifiedAt.IsZero() {
				t.Fatal("the link did not prove the address")
			}
		})

		t.Run("delete", func(t *testing.T) {
			now := ae.Env.Clock.Now()
			if err := ae.Env.Store.CreateOrg(ctx, store.Org{ID: "org-ann", Name: "Ann's", CreatedAt: now}, ae.userID(t, "anna@example.com")); err != nil {
				t.Fatal(err)
			}
			if err := ae.Env.Store.AddMember(ctx, store.Member{OrgID: "org-ann", UserID: id, Role: "viewer", CreatedAt: now}); err != nil {
				t.Fatal(err)
			}
			if rec := ae.call(t, "DELETE", "/admin/users/"+id, nil); rec.Code != http.StatusNoContent {
				t.Fatalf("delete: %d %s", rec.Code, rec.Body)
			}
			eventstest.Require(t, ae.Env.Store, events.OrgMemberRemoved, "org/org-ann/member/"+id,
				map[string]string{"org_id": "org-ann", "user_id": id, "role": "viewer", "by": "operator"})
			if _, err := ae.Env.Store.User(ctx, id); err == nil {
				t.Fatal("user still there")
			}
			ae.lastMessage(t, "ann@example.com", notify.KindAlert)
			if rec := ae.call(t, "DELETE", "/admin/users/"+id, nil); rec.Code != http.StatusNotFound {
				t.Fatalf("delete again: %d", rec.Code)
			}
		})

		ae.Env.IntegrateAudit(t)
		evs, err := ae.Env.Store.ActorAuditEvents(ctx, "operator:"+adminSA, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, e := range evs {
			seen[e.Action] = true
		}
		for _, a := range []string{"admin.user.search", "admin.user.read", "admin.user.disable", "admin.user.enable",
			"admin.user.sessions_revoke", "admin.user.mfa_reset", "admin.user.verification_sent", "user.delete"} {
			if !seen[a] {
				t.Errorf("no %s audit event by the operator", a)
			}
		}
		// Each operator change emitted its event exactly once (docs/events.md).
		got := emitted(t, ae.Env.Store, "user/"+id)
		slices.Sort(got)
		want := []string{
			`mfa.changed {"user_id":"U","change":"reset"}`,
			`mfa.changed {"user_id":"U","change":"totp_enabled"}`,
			`session.revoked {"user_id":"U","reason":"admin_disabled"}`,
			`session.revoked {"user_id":"U","reason":"admin_revoked"}`,
			`session.revoked {"user_id":"U","reason":"mfa_reset"}`,
			`session.revoked {"user_id":"U","reason":"revoke_all"}`,
			`user.created {"user_id":"U","email":"ann@example.com","by":"user"}`,
			`user.deleted {"user_id":"U","by":"operator"}`,
			`user.disabled {"user_id":"U","by":"operator"}`,
			`user.enabled {"user_id":"U","by":"operator"}`,
		}
		if strings.ReplaceAll(strings.Join(got, "\n"), id, "U") != strings.Join(want, "\n") {
			t.Fatalf("events:\n%s", strings.Join(got, "\n"))
		}
		s, u := ae.Env.Store, "user/"+id
		eventstest.Require(t, s, events.UserCreated, u, map[string]string{"user_id": id, "email": "ann@example.com", "by": "user"})
		eventstest.Require(t, s, events.UserDisabled, u, map[string]string{"user_id": id, "by": "operator"})
		eventstest.Require(t, s, events.UserEnabled, u, map[string]string{"user_id": id, "by": "operator"})
		eventstest.Require(t, s, events.UserDeleted, u, map[string]string{"user_id": id, "by": "operator"})
		eventstest.Require(t, s, events.SessionRevoked, u, map[string]string{"user_id": id, "reason": "admin_disabled"})
		eventstest.Require(t, s, events.MFAChanged, u, map[string]string{"user_id": id, "change": "reset"})
	})
}

// Controls: AUTHZ-4, AUDIT-1
func TestAdminOrgs(t *testing.T) {
	backends(t, func(t *testing.T, b bootstraptest.Backend) {
		ae := newAdminEnv(t, b)
		ctx, now := context.Background(), ae.Env.Clock.Now()
		for _, u := range []string{"owner", "member", "outsider"} {
			if err := ae.Env.Store.CreateUser(ctx, store.User{ID: u, Email: u + "@example.com", CreatedAt: now, UpdatedAt: now}); err != nil {
				t.Fatal(err)
			}
		}
		for _, o := range []string{"org-b", "org-a"} {
			if err := ae.Env.Store.CreateOrg(ctx, store.Org{ID: o, Name: "Org " + o, CreatedAt: now}, "owner"); err != nil {
				t.Fatal(err)
			}
		}
		if err := ae.Env.Store.AddMember(ctx, store.Member{OrgID: "org-a", UserID: "member", Role: "admin", CreatedAt: now}); err != nil {
			t.Fatal(err)
		}
		var list struct {
			Orgs      []adminOrgJSON `json:"orgs"`
			NextAfter string         `json:"next_after"`
		}
		decodeJSON(t, ae.call(t, "GET", "/admin/orgs?limit=1", nil), http.StatusOK, &list)
		if len(list.Orgs) != 1 || list.Orgs[0].ID != "org-a" || list.NextAfter != "org-a" {
			t.Fatalf("first page = %+v", list)
		}
		decodeJSON(t, ae.call(t, "GET", "/admin/orgs?after=org-a", nil), http.StatusOK, &list)
		if len(list.Orgs) != 1 || list.Orgs[0].ID != "org-b" {
			t.Fatalf("second page = %+v", list)
		}
		if rec := ae.call(t, "GET", "/admin/orgs?limit=0", nil); rec.Code != http.StatusBadRequest {
			t.Fatalf("limit=0: %d", rec.Code)
		}
		var org adminOrgDetailJSON
		decodeJSON(t, ae.call(t, "GET", "/admin/orgs/org-a", nil), http.StatusOK, &org)
		if org.Owner != "owner" || len(org.Members) != 2 {
			t.Fatalf("org-a = %+v", org)
		}
		for _, tc := range []struct {
			name, to string
			status   int
			code     string
		}{
			{"not a member", "outsider", http.StatusConflict, "not_member"},
			{"already owner", "owner", http.StatusConflict, "already_owner"},
			{"empty", "", http.StatusBadRequest, "invalid_request"},
			{"member", "member", http.StatusOK, ""},
		} {
			rec := ae.call(t, "POST", "/admin/orgs/org-a/owner", map[string]string{"user_id": tc.to})
			if rec.Code != tc.status || (tc.code != "" && errorCode(rec) != tc.code) {
				t.Fatalf("%s: %d %s", tc.name, rec.Code, rec.Body)
			}
		}
		decodeJSON(t, ae.call(t, "GET", "/admin/orgs/org-a", nil), http.StatusOK, &org)
		if org.Owner != "member" {
			t.Fatalf("owner after transfer = %s", org.Owner)
		}
		ae.Env.IntegrateAudit(t)
		evs, err := ae.Env.Store.ActorAuditEvents(ctx, "operator:"+adminSA, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		var transfers int
		for _, e := range evs {
			if e.Action == "org.owner.transfer" && e.OrgID == "org-a" {
				transfers++
			}
		}
		if transfers != 1 {
			t.Fatalf("%d org.owner.transfer events by the operator, want 1", transfers)
		}
		// The transfer changed two roles; the refused ones changed none.
		eventstest.Require(t, ae.Env.Store, events.OrgMemberRoleChanged, "org/org-a/member/member",
			map[string]string{"org_id": "org-a", "user_id": "member", "role": "owner", "by": "operator"})
		eventstest.Require(t, ae.Env.Store, events.OrgMemberRoleChanged, "org/org-a/member/owner",
			map[string]string{"org_id": "org-a", "user_id": "owner", "role": "admin", "previous_role": "owner", "by": "operator"})
		if rec := ae.call(t, "GET", "/admin/orgs/nope", nil); rec.Code != http.StatusNotFound {
			t.Fatalf("unknown org: %d", rec.Code)
		}
	})
}

// A reason is accepted only within its bounds, as valid UTF-8 without
// control characters, and comes back trimmed.
func FuzzAdminReason(f *testing.F) {
	for _, s := range []string{"ticket 42", "ab", "  ticket  ", "a\x00b", "\xff\xfe reason", strings.Repeat("é", 500), strings.Repeat("x", 501)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		r := httptest.NewRequest(http.MethodGet, "/admin/users", nil)
		r.Header[ReasonHeader] = []string{raw}
		got, ok := adminReason(r)
		if !ok {
			return
		}
		n := len([]rune(got))
		if n < minReasonLen || n > maxReasonLen || got != strings.TrimSpace(got) || strings.ContainsFunc(got, unicode.IsControl) || !utf8.ValidString(got) {
			t.Fatalf("accepted %q", got)
		}
	})
}

// Unauthenticated callers cannot make the verifier refetch keys without
// bound: past the per-network limit the admin API answers 429 before it
// looks at the credential.
//
// Controls: AUTH-3, APP-5
func TestAdminRateLimited(t *testing.T) {
	ae := newAdminEnv(t, bootstraptest.Backends[0])
	hdr := http.Header{"Authorization": {"Bearer forged.token.value"}, ReasonHeader: {"probing"}}
	for i := range limitAdminNetwork.Burst {
		if rec := ae.do(t, "GET", "/admin/users", nil, hdr); rec.Code != http.StatusUnauthorized {
			t.Fatalf("call %d: %d", i, rec.Code)
		}
	}
	if rec := ae.do(t, "GET", "/admin/users", nil, hdr); rec.Code != http.StatusTooManyRequests {
		t.Fatalf("past the limit: %d %s", rec.Code, rec.Body)
	}
}
