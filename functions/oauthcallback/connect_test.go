package oauthcallback

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/bootstrap/bootstraptest"
	"github.com/gatehouse-dev/gatehouse/shared/broker"
	"github.com/gatehouse-dev/gatehouse/shared/envelope"
	"github.com/gatehouse-dev/gatehouse/shared/store"
)

func eachBackend(t *testing.T, run func(t *testing.T, e *testEnv)) {
	for _, b := range bootstraptest.Backends {
		t.Run(b.Name, func(t *testing.T) { run(t, newTestEnv(t, b)) })
	}
}

// The whole flow against a real authorization server, through x/oauth2:
// connect, approve, callback, sealed tokens, broker.
//
// Controls: OAUTH-1, OAUTH-2, OAUTH-4, CRED-1, CRED-4, AUDIT-1
func TestConnectFlow(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *testEnv) {
		f := e.start(t, e.users["admin"], "google_ads", "org="+orgA+"&return_to=/settings/integrations")
		q := f.authURL.Query()
		if q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" ||
			q.Get("access_type") != "offline" || q.Get("prompt") != "consent" {
			t.Fatalf("authorization request %v", q)
		}
		if f.cookie == "" || len(q.Get("state")) < 100 {
			t.Fatalf("flow cookie %q, state %q", f.cookie, q.Get("state"))
		}
		rec := e.finish(t, "google_ads", f.callback, f.cookie)
		back := redirectQuery(t, rec)
		if back.Get("oauth_connected") != "google_ads" || back.Get("connection") == "" {
			t.Fatalf("redirect back %v", back)
		}
		// OAUTH-1: nothing the browser sees carries a token or the code.
		if strings.Contains(rec.Header().Get("Location"), f.callback.Get("code")) || rec.Body.Len() > 200 {
			t.Fatalf("callback response leaks: %q", rec.Header().Get("Location"))
		}
		cs := e.connections(t, orgA)
		if len(cs) != 1 || cs[0].Status != store.ConnectionActive || cs[0].CreatedBy != "user-admin" {
			t.Fatalf("connections %+v", cs)
		}
		c := cs[0]
		at, err := e.Keyring.Open(context.Background(), envelope.PurposeCredential, broker.Binding(orgA, c.ID, broker.FieldAccessToken), c.AccessToken)
		if err != nil || !e.srv.AccessTokenValid(string(at)) {
			t.Fatalf("stored access token does not open to a live token: %v", err)
		}
		e.Logs.Plant(string(at))
		// Through the broker, with the shared secret.
		rec = e.do(t, http.MethodPost, "/internal/token", `{"org_id":"`+orgA+`","connection_id":"`+c.ID+`"}`,
			"Authorization", "Bearer "+brokerSecret, "Content-Type", "application/json")
		if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), string(at)) || rec.Header().Get("Cache-Control") != "no-store" {
			t.Fatalf("broker: %d %s", rec.Code, rec.Header())
		}
		if !slices.Contains(auditActions(t, e), "credential.connect") {
			t.Fatal("connection not audited")
		}
	})
}

// Controls: AUTHZ-2, AUTHZ-3, AUTH-12, APP-1
func TestConnectNeedsPermission(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *testEnv) {
		staleAdmin := e.signIn(t, "user-admin")
		e.stale(t, staleAdmin)
		for _, tc := range []struct {
			name   string
			target string
			hdr    []string
			status int
			code   string
		}{
			{"no session", "/connect/google_ads?org=org-a&return_to=/x", nil, 401, "unauthenticated"},
			{"viewer", "/connect/google_ads?org=org-a&return_to=/x", bearer(e.users["viewer"]), 403, "forbidden"},
			{"other organization", "/connect/google_ads?org=org-a&return_to=/x", bearer(e.users["outsider"]), 403, "forbidden"},
			{"no organization", "/connect/google_ads?return_to=/x", bearer(e.users["admin"]), 403, "forbidden"},
			{"old authentication", "/connect/google_ads?org=org-a&return_to=/x", bearer(staleAdmin), 403, "reauthentication_required"},
			{"unconfigured platform", "/connect/linkedin?org=org-a&return_to=/x", bearer(e.users["admin"]), 404, "unknown_platform"},
			{"unknown platform", "/connect/myspace?org=org-a&return_to=/x", bearer(e.users["admin"]), 404, "unknown_platform"},
			{"unknown parameter", "/connect/google_ads?org=org-a&return_to=/x&scope=all", bearer(e.users["admin"]), 400, "invalid_request"},
			{"shopify without shop", "/connect/shopify?org=org-a&return_to=/x", bearer(e.users["admin"]), 400, "invalid_request"},
			{"shopify other domain", "/connect/shopify?org=org-a&return_to=/x&shop=evil.com", bearer(e.users["admin"]), 400, "invalid_request"},
		} {
			rec := e.do(t, http.MethodPost, tc.target, "", tc.hdr...)
			if rec.Code != tc.status || !strings.Contains(rec.Body.String(), `"code":"`+tc.code+`"`) {
				t.Errorf("%s: %d %s, want %d %s", tc.name, rec.Code, rec.Body, tc.status, tc.code)
			}
			if rec.Header().Get("Set-Cookie") != "" && strings.Contains(rec.Header().Get("Set-Cookie"), flowCookie) {
				t.Errorf("%s: flow cookie set on a refused request", tc.name)
			}
		}
	})
}

// Every open-redirect form is refused at /connect, before any flow starts.
//
// Controls: OAUTH-3
func TestConnectRefusesOpenRedirects(t *testing.T) {
	e := newTestEnv(t, bootstraptest.Backends[0])
	for _, tc := range []struct{ name, returnTo string }{
		{"scheme-relative", "//evil.com/x"},
		{"backslash", "/\\evil.com"},
		{"encoded backslash", "/%5Cevil.com"},
		{"control character", "/a\tb"},
		{"encoded newline", "/a%0d%0ab"},
		{"dot-dot", "/a/../b"},
		{"encoded dot-dot", "/a/%2e%2e/b"},
		{"double-encoded dot-dot", "/a/%252e%252e/b"},
		{"userinfo", "https://app.example.com@evil.com/"},
		{"other origin", "https://evil.com/"},
		{"javascript", "javascript:alert(1)"},
		{"data", "data:text/html,x"},
		{"missing", ""},
	} {
		target := "/connect/google_ads?org=org-a&return_to=" + url.QueryEscape(tc.returnTo)
		rec := e.do(t, http.MethodPost, target, "", bearer(e.users["admin"])...)
		if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), `"return_to"`) {
			t.Errorf("%s: %d %s", tc.name, rec.Code, rec.Body)
		}
	}
}

func auditActions(t *testing.T, e *testEnv) []string {
	t.Helper()
	evs, err := e.Store.AuditEvents(context.Background(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, ev := range evs {
		out = append(out, ev.Action)
	}
	return out
}

// Meta's code exchange yields a short-lived user token; the callback trades
// it for the long-lived one before sealing, so the connection outlives the
// short token by weeks instead of going INVALID within hours.
//
// Controls: OAUTH-1, CRED-1, CRED-4
func TestConnectMetaLongLived(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *testEnv) {
		f := e.start(t, e.users["admin"], "meta_ads", "org="+orgA+"&return_to=/settings/integrations")
		if got := f.authURL.Query().Get("scope"); got != "ads_read" {
			t.Fatalf("scope %q", got)
		}
		back := redirectQuery(t, e.finish(t, "meta_ads", f.callback, f.cookie))
		if back.Get("oauth_connected") != "meta_ads" {
			t.Fatalf("redirect back %v", back)
		}
		if n := e.srv.LongLivedExchanges(); n != 1 {
			t.Fatalf("%d long-lived exchanges, want 1", n)
		}
		c, err := e.Store.Connection(context.Background(), orgA, back.Get("connection"))
		if err != nil {
			t.Fatal(err)
		}
		if want := e.Clock.Now().Add(60 * 24 * time.Hour); !c.ExpiresAt.Equal(want) || len(c.RefreshToken) != 0 {
			t.Fatalf("expires %v (want %v), refresh token stored: %v", c.ExpiresAt, want, len(c.RefreshToken) != 0)
		}
		at, err := e.Keyring.Open(context.Background(), envelope.PurposeCredential, broker.Binding(orgA, c.ID, broker.FieldAccessToken), c.AccessToken)
		if err != nil {
			t.Fatal(err)
		}
		e.Logs.Plant(string(at))
		// Long after the short-lived token's hour, the broker still serves it.
		e.Clock.Advance(7 * 24 * time.Hour)
		if !e.srv.AccessTokenValid(string(at)) {
			t.Fatal("stored token is not the long-lived one")
		}
		resp := e.brokerCall(t, orgA, c.ID)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("broker after a week: %d", resp.StatusCode)
		}
	})
}

// One browser can run several flows at once: each has its own cookie, the
// callbacks finish in any order, and one flow's cookie never vouches for
// another flow's state.
//
// Controls: OAUTH-2
func TestParallelFlowsInOneBrowser(t *testing.T) {
	e := newTestEnv(t, bootstraptest.Backends[0])
	first := e.start(t, e.users["admin"], "google_ads", "org="+orgA+"&return_to=/one")
	second := e.start(t, e.users["admin"], "meta_ads", "org="+orgA+"&return_to=/two")
	if first.cookie == "" || second.cookie == "" || flowCookieName(first.cookie) == flowCookieName(second.cookie) {
		t.Fatal("the flows do not have cookies of their own")
	}
	swapped := flowCookieName(first.cookie) + "=" + second.cookie
	if got := redirectQuery(t, e.do(t, http.MethodGet, "/callback/google_ads?"+first.callback.Encode(), "", "Cookie", swapped)).Get("oauth_error"); got != "invalid_state" {
		t.Fatalf("another flow's nonce under this flow's cookie name: %q", got)
	}
	// The refused callback ended the first flow (its cookie is cleared);
	// start it again. A browser sends every cookie it holds.
	first = e.start(t, e.users["admin"], "google_ads", "org="+orgA+"&return_to=/one")
	both := flowCookieName(first.cookie) + "=" + first.cookie + "; " + flowCookieName(second.cookie) + "=" + second.cookie
	for _, f := range []struct {
		platform string
		q        url.Values
	}{{"meta_ads", second.callback}, {"google_ads", first.callback}} {
		rec := e.do(t, http.MethodGet, "/callback/"+f.platform+"?"+f.q.Encode(), "", "Cookie", both)
		if got := redirectQuery(t, rec).Get("oauth_connected"); got != f.platform {
			t.Fatalf("%s callback with both cookies: %d %q", f.platform, rec.Code, rec.Header().Get("Location"))
		}
		cleared := false
		for _, c := range rec.Result().Cookies() {
			cleared = cleared || (strings.HasPrefix(c.Name, flowCookie) && c.MaxAge < 0)
		}
		if !cleared {
			t.Fatalf("%s callback left its flow cookie", f.platform)
		}
	}
	if n := len(e.connections(t, orgA)); n != 2 {
		t.Fatalf("%d connections, want 2", n)
	}
}
