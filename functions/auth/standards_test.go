package auth

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/shared/bootstrap/bootstraptest"
	"github.com/gatehouse-dev/gatehouse/shared/logging"
)

// testClientSecret is the RFC 7662 client "backend" of withClients.
const testClientSecret = "s3cr3t-0123456789-abcdefghij-KLMNOP"

func withClients(c *Config, _ *Extension) {
	c.IntrospectionClients = logging.NewSecret("backend:" + testClientSecret + ",other:" + strings.Repeat("x", 32))
}

// form sends a form-encoded POST with HTTP Basic credentials (none when
// id is "").
func (te *testEnv) form(t testing.TB, path, id, secret string, v url.Values) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest("POST", path, strings.NewReader(v.Encode()))
	req.RemoteAddr = testClientAddr
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if id != "" {
		req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	}
	rec := httptest.NewRecorder()
	te.H.ServeHTTP(rec, req)
	return rec
}

// introspect7662 introspects tok as the client "backend".
func (te *testEnv) introspect7662(t testing.TB, tok string) introspection {
	t.Helper()
	var out introspection
	extDecodeBody(t, te.form(t, "/token/introspect", "backend", testClientSecret, url.Values{"token": {tok}}), http.StatusOK, &out)
	return out
}

// refreshOrg refreshes as an API client, asking for org.
func (te *testEnv) refreshOrg(t testing.TB, refresh, org string) *httptest.ResponseRecorder {
	t.Helper()
	return te.do(t, "POST", "/token", map[string]string{"refresh_token": refresh, "organization": org})
}

// claimsOf decodes the payload of a JWT without checking it.
func claimsOf(t testing.TB, jwt string) map[string]any {
	t.Helper()
	parts := strings.Split(jwt, ".")
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	var c map[string]any
	if err != nil || json.Unmarshal(raw, &c) != nil {
		t.Fatalf("token payload: %v", err)
	}
	return c
}

// An organization-scoped token is minted only for members, carries the
// role and permissions of the moment and the usual lifetime; a role change
// shows at once through introspection and in the next refresh; a removed
// member's token introspects inactive. A refused request does not spend
// the refresh token.
//
// Controls: AUTHZ-2, AUTHZ-3, AUTH-6
func TestOrgScopedTokens(t *testing.T) {
	backends(t, func(t *testing.T, b bootstraptest.Backend) {
		te := newTestEnv(t, b, withClients)
		w := te.orgSetup(t)
		op := w.tokens["operatorA"]
		rec := te.refreshOrg(t, op.RefreshToken, w.A)
		scoped := decodeTokens(t, rec)
		te.Env.Logs.Plant(scoped.AccessToken, scoped.RefreshToken)
		c := claimsOf(t, scoped.AccessToken)
		if c["org_id"] != w.A || c["role"] != "operator" || scoped.OrgID != w.A || scoped.ExpiresIn != 600 ||
			c["exp"].(float64)-c["iat"].(float64) != 600 {
			t.Fatalf("scoped token claims %v, response %+v", c, scoped.TokenResponse)
		}
		if perms, _ := c["permissions"].([]any); len(perms) != 2 || perms[0] != "read" || perms[1] != "features.use" {
			t.Fatalf("permissions = %v", c["permissions"])
		}
		// The scoped token works on Gatehouse's own routes too.
		if rec := te.do(t, "GET", "/me", nil, bearer(scoped.AccessToken)); rec.Code != http.StatusOK {
			t.Fatalf("GET /me with a scoped token: %d", rec.Code)
		}
		// Not a member of B: 403, and the refresh token stays good.
		if rec := te.refreshOrg(t, scoped.RefreshToken, w.B); rec.Code != http.StatusForbidden {
			t.Fatalf("token for another org: %d %s", rec.Code, rec.Body)
		}
		if rec := te.refreshOrg(t, scoped.RefreshToken, "org_doesnotexist"); rec.Code != http.StatusForbidden {
			t.Fatalf("token for a missing org: %d %s", rec.Code, rec.Body)
		}
		// The owner demotes the operator: introspection sees it at once.
		extDecodeBody(t, te.do(t, "PATCH", "/orgs/"+w.A+"/members/"+w.ids["operatorA"], map[string]string{"role": "viewer"},
			bearer(w.tokens["ownerA"].AccessToken)), http.StatusOK, nil)
		if got := te.introspect7662(t, scoped.AccessToken); !got.Active || got.Role != "viewer" ||
			!slices.Equal(got.Permissions, []string{"read"}) || got.OrgID != w.A {
			t.Fatalf("introspection after the role change: %+v", got)
		}
		if c := claimsOf(t, scoped.AccessToken); c["role"] != "operator" {
			t.Fatal("the signed token changed")
		}
		next := decodeTokens(t, te.refreshOrg(t, scoped.RefreshToken, w.A))
		te.Env.Logs.Plant(next.AccessToken, next.RefreshToken)
		if c := claimsOf(t, next.AccessToken); c["role"] != "viewer" {
			t.Fatalf("next refresh: role %v", c["role"])
		}
		// Unscoped refresh gives an unscoped token.
		plain := decodeTokens(t, te.do(t, "POST", "/token", map[string]string{"refresh_token": next.RefreshToken}))
		te.Env.Logs.Plant(plain.AccessToken, plain.RefreshToken)
		if c := claimsOf(t, plain.AccessToken); c["org_id"] != nil || c["permissions"] != nil || plain.OrgID != "" {
			t.Fatalf("unscoped token has org claims: %v", c)
		}
		// Removed: the scoped token introspects inactive, though unexpired.
		rec = te.do(t, "DELETE", "/orgs/"+w.A+"/members/"+w.ids["operatorA"], nil, bearer(w.tokens["ownerA"].AccessToken))
		if rec.Code != http.StatusNoContent {
			t.Fatalf("remove member: %d %s", rec.Code, rec.Body)
		}
		if got := te.introspect7662(t, next.AccessToken); got.Active {
			t.Fatalf("removed member's token is active: %+v", got)
		}
		if got := te.introspect7662(t, plain.AccessToken); !got.Active || got.OrgID != "" {
			t.Fatalf("unscoped token after removal: %+v", got)
		}
		if rec := te.refreshOrg(t, plain.RefreshToken, w.A); rec.Code != http.StatusForbidden {
			t.Fatalf("token for a former org: %d %s", rec.Code, rec.Body)
		}
	})
}

// RFC 7662 introspection needs client_secret_basic credentials of a
// configured client, takes a strict form, and reports a revoked session's
// token inactive.
//
// Controls: AUTH-6, APP-1, APP-5
func TestIntrospectRFC7662(t *testing.T) {
	backends(t, func(t *testing.T, b bootstraptest.Backend) {
		te := newTestEnv(t, b, withClients)
		tk := te.signUp(t, "rfc7662@example.com", testPassword)
		got := te.introspect7662(t, tk.AccessToken)
		if !got.Active || got.Subject != tk.UserID || got.SessionID != tk.SessionID || got.TokenType != "Bearer" ||
			got.Issuer != "https://gatehouse.example.com" || got.Audience != "gatehouse" || got.ExpiresAt-got.IssuedAt != 600 {
			t.Fatalf("introspection = %+v", got)
		}
		tokenForm := url.Values{"token": {tk.AccessToken}}
		for _, tc := range []struct {
			name, id, secret string
		}{
			{"no credentials", "", ""},
			{"wrong secret", "backend", testClientSecret + "x"},
			{"unknown client", "nobody", testClientSecret},
			{"other client's secret", "other", testClientSecret},
		} {
			rec := te.form(t, "/token/introspect", tc.id, tc.secret, tokenForm)
			var body map[string]string
			_ = json.Unmarshal(rec.Body.Bytes(), &body)
			if rec.Code != http.StatusUnauthorized || body["error"] != "invalid_client" ||
				!strings.HasPrefix(rec.Header().Get("WWW-Authenticate"), "Basic") {
				t.Errorf("%s: %d %s", tc.name, rec.Code, rec.Body)
			}
		}
		for _, tc := range []struct {
			name string
			body string
			ct   string
			want int
		}{
			{"json body", `{"token":"x"}`, "application/json", http.StatusUnsupportedMediaType},
			{"repeated token", "token=a&token=b", "application/x-www-form-urlencoded", http.StatusBadRequest},
			{"unknown parameter", "token=a&client_secret=b", "application/x-www-form-urlencoded", http.StatusBadRequest},
			{"no token", "token_type_hint=access_token", "application/x-www-form-urlencoded", http.StatusBadRequest},
			{"bad escape", "token=%zz", "application/x-www-form-urlencoded", http.StatusBadRequest},
		} {
			req := httptest.NewRequest("POST", "/token/introspect", strings.NewReader(tc.body))
			req.Header.Set("Content-Type", tc.ct)
			req.SetBasicAuth("backend", testClientSecret)
			rec := httptest.NewRecorder()
			te.H.ServeHTTP(rec, req)
			var body map[string]any
			_ = json.Unmarshal(rec.Body.Bytes(), &body)
			if rec.Code != tc.want || body["error"] == nil {
				t.Errorf("%s: %d %s, want %d", tc.name, rec.Code, rec.Body, tc.want)
			}
		}
		if got := te.introspect7662(t, tk.RefreshToken); got.Active {
			t.Fatal("a refresh token introspects active")
		}
		te.do(t, "POST", "/logout", nil, bearer(tk.AccessToken))
		rec := te.form(t, "/token/introspect", "backend", testClientSecret, tokenForm)
		if rec.Code != http.StatusOK || strings.TrimSpace(rec.Body.String()) != `{"active":false}` ||
			rec.Header().Get("Cache-Control") != "no-store" {
			t.Fatalf("after logout: %d %s", rec.Code, rec.Body)
		}
	})
}

// RFC 7009: a refresh or access token ends its session; anything else is
// answered 200 and changes nothing; wrong client credentials are refused.
//
// Controls: AUTH-6
func TestRevokeRFC7009(t *testing.T) {
	backends(t, func(t *testing.T, b bootstraptest.Backend) {
		te := newTestEnv(t, b, withClients)
		first := te.signUp(t, "rfc7009@example.com", testPassword)
		second := decodeTokens(t, te.login(t, "rfc7009@example.com", testPassword))
		te.Env.Logs.Plant(second.AccessToken, second.RefreshToken)
		for _, tok := range []string{"garbage", "abc.def.ghi", base64.RawURLEncoding.EncodeToString(make([]byte, 32))} {
			if rec := te.form(t, "/token/revoke", "", "", url.Values{"token": {tok}}); rec.Code != http.StatusOK {
				t.Fatalf("revoke %q: %d %s", tok, rec.Code, rec.Body)
			}
		}
		if rec := te.form(t, "/token/revoke", "backend", "wrong-secret", url.Values{"token": {first.RefreshToken}}); rec.Code != http.StatusUnauthorized {
			t.Fatalf("revoke with wrong client credentials: %d", rec.Code)
		}
		if rec := te.do(t, "GET", "/me", nil, bearer(first.AccessToken)); rec.Code != http.StatusOK {
			t.Fatal("a refused or invalid revocation ended the session")
		}
		rec := te.form(t, "/token/revoke", "", "", url.Values{"token": {first.RefreshToken}, "token_type_hint": {"refresh_token"}})
		if rec.Code != http.StatusOK {
			t.Fatalf("revoke refresh token: %d %s", rec.Code, rec.Body)
		}
		if rec := te.do(t, "GET", "/me", nil, bearer(first.AccessToken)); rec.Code != http.StatusUnauthorized {
			t.Fatalf("access token of a revoked refresh token's session: %d", rec.Code)
		}
		if rec := te.do(t, "POST", "/token", map[string]string{"refresh_token": first.RefreshToken}); rec.Code != http.StatusUnauthorized {
			t.Fatalf("revoked refresh token refreshes: %d", rec.Code)
		}
		rec = te.form(t, "/token/revoke", "backend", testClientSecret, url.Values{"token": {second.AccessToken}})
		if rec.Code != http.StatusOK {
			t.Fatalf("revoke access token: %d %s", rec.Code, rec.Body)
		}
		if got := te.introspect7662(t, second.AccessToken); got.Active {
			t.Fatal("revoked access token is active")
		}
		if rec := te.form(t, "/token/revoke", "", "", url.Values{"token": {second.AccessToken}}); rec.Code != http.StatusOK {
			t.Fatalf("revoking twice: %d", rec.Code)
		}
	})
}

// The metadata documents name the issuer, the keys, EdDSA and the
// introspection and revocation endpoints under the function's public URL.
func TestMetadata(t *testing.T) {
	te := newTestEnv(t, bootstraptest.Backend{Name: "sqlite", Open: bootstraptest.SQLite})
	for _, p := range WellKnownPaths {
		var m map[string]any
		rec := te.do(t, "GET", p, nil)
		extDecodeBody(t, rec, http.StatusOK, &m)
		want := map[string]any{
			"issuer":                 "https://gatehouse.example.com",
			"jwks_uri":               "https://gatehouse.example.com/auth/.well-known/jwks.json",
			"introspection_endpoint": "https://gatehouse.example.com/auth/token/introspect",
			"revocation_endpoint":    "https://gatehouse.example.com/auth/token/revoke",
		}
		for k, v := range want {
			if m[k] != v {
				t.Errorf("%s: %s = %v, want %v", p, k, m[k], v)
			}
		}
		if algs, _ := m["id_token_signing_alg_values_supported"].([]any); len(algs) != 1 || algs[0] != "EdDSA" {
			t.Errorf("%s: algorithms %v", p, m["id_token_signing_alg_values_supported"])
		}
	}
}

// A malformed client list stops the start, naming no secret.
func TestIntrospectionClientsConfig(t *testing.T) {
	for _, tc := range []struct{ name, value, secret string }{
		{"no colon", "backend", "backend"},
		{"short secret", "backend:tiny-s3cret", "tiny-s3cret"},
		{"bad id", "back end:" + testClientSecret, testClientSecret},
		{"duplicate", "a:" + testClientSecret + ",a:" + testClientSecret, testClientSecret},
	} {
		_, err := parseClients(logging.NewSecret(tc.value))
		if err == nil || strings.Contains(err.Error(), tc.secret) {
			t.Errorf("%s: err = %v", tc.name, err)
		}
	}
}
