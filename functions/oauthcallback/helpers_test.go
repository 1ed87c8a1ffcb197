package oauthcallback

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/bootstrap/bootstraptest"
	"github.com/gatehouse-dev/gatehouse/shared/dnsproof/dnstest"
	"github.com/gatehouse-dev/gatehouse/shared/logging"
	"github.com/gatehouse-dev/gatehouse/shared/oauthtest"
	"github.com/gatehouse-dev/gatehouse/shared/outbound/outboundtest"
	"github.com/gatehouse-dev/gatehouse/shared/provider"
	"github.com/gatehouse-dev/gatehouse/shared/session"
	"github.com/gatehouse-dev/gatehouse/shared/store"
	"github.com/gatehouse-dev/gatehouse/shared/token"
)

const (
	orgA         = "org-a"
	orgB         = "org-b"
	callbackBase = "https://gatehouse.example.com/oauth"
	brokerSecret = "broker-shared-secret-0123456789abcdef"
	shop         = "acme.myshopify.com"
)

// testEnv is the function on one backend with a local authorization
// server for Google Ads (RFC 9207 iss, rotating refresh tokens) and one in
// Shopify mode, and users: admin (admin of org A), viewer (viewer of org A)
// and outsider (admin of org B only).
type testEnv struct {
	*bootstraptest.Env
	h        http.Handler
	srv      *oauthtest.Server
	shopSrv  *oauthtest.Server
	sessions *session.Manager
	users    map[string]testUser
	dns      *dnstest.Server // the resolver domain verification asks
}

type testUser struct {
	id, access, session string
}

func newTestEnv(t testing.TB, b bootstraptest.Backend) *testEnv {
	t.Helper()
	e := &testEnv{Env: bootstraptest.New(t, b.Open(t)), users: map[string]testUser{}}
	e.srv = oauthtest.New(t, oauthtest.Options{Issuer: true, RotateRefreshTokens: true, Now: e.Clock.Now})
	e.srv.AddClient("gads-client", "gads-secret-value", callbackBase+"/callback/google_ads")
	e.srv.AddClient("meta-client", "meta-secret-value", callbackBase+"/callback/meta_ads")
	e.srv.AddClient("google-client", "google-secret-value", callbackBase+"/signin/google/callback")
	e.srv.AddClient("github-client", "github-secret-value", callbackBase+"/signin/github/callback")
	e.srv.AddClient("sso-client", "sso-secret-value", callbackBase+"/signin/oidc/callback")
	e.shopSrv = oauthtest.New(t, oauthtest.Options{Shopify: true, Now: e.Clock.Now})
	e.shopSrv.AddClient("shop-client", "shop-secret-value", callbackBase+"/callback/shopify")
	e.Logs.Plant("gads-secret-value", "meta-secret-value", "shop-secret-value", brokerSecret, "google-secret-value", "github-secret-value", "sso-secret-value")
	e.dns = dnstest.New(t)
	e.Deps.Config.DNSResolver = e.dns.Addr
	h, err := New(e.Deps, e.config(t))
	if err != nil {
		t.Fatal(err)
	}
	e.h = h
	e.sessions = e.sessionManager(t)
	e.addUsers(t)
	return e
}

func (e *testEnv) config(t testing.TB) Config {
	return Config{
		Platforms: map[string]provider.Settings{
			provider.GoogleAds: {ClientID: "gads-client", ClientSecret: logging.NewSecret("gads-secret-value"),
				AuthURL: e.srv.AuthURL(), TokenURL: e.srv.TokenURL(), RevokeURL: e.srv.RevokeURL(), Issuer: e.srv.Issuer()},
			provider.MetaAds: {ClientID: "meta-client", ClientSecret: logging.NewSecret("meta-secret-value"),
				AuthURL: e.srv.AuthURL(), TokenURL: e.srv.TokenURL(), RevokeURL: e.srv.RevokeURL()},
			provider.Shopify: {ClientID: "shop-client", ClientSecret: logging.NewSecret("shop-secret-value"),
				AuthURL: e.shopSrv.AuthURL() + "?shop=" + provider.ShopPlaceholder, TokenURL: e.shopSrv.TokenURL(),
				RevokeURL: e.shopSrv.RevokeURL()},
		},
		SignIn: map[string]provider.Settings{
			"google": {ClientID: "google-client", ClientSecret: logging.NewSecret("google-secret-value"), Issuer: e.srv.Issuer()},
			"github": {ClientID: "github-client", ClientSecret: logging.NewSecret("github-secret-value"),
				AuthURL: e.srv.AuthURL(), TokenURL: e.srv.TokenURL(), APIURL: e.srv.URL},
		},
		CallbackBase: callbackBase,
		BrokerSecret: logging.NewSecret(brokerSecret),
		Outbound:     outboundtest.Client(t, e.srv.Server, e.shopSrv.Server),
	}
}

// sessionManager is the auth function's session code, used to sign users in.
func (e *testEnv) sessionManager(t testing.TB) *session.Manager {
	signer, err := token.NewSigner(context.Background(), e.Store, e.Keyring,
		token.Options{Issuer: e.Config.PublicURL.String(), Now: e.Clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	m, err := session.New(e.Deps, signer, session.Config{AllowedOrigins: e.Config.AllowedOrigins})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func (e *testEnv) addUsers(t testing.TB) {
	ctx := context.Background()
	now := e.Clock.Now()
	for _, name := range []string{"admin", "viewer", "outsider", "ownerA", "ownerB"} {
		if err := e.Store.CreateUser(ctx, store.User{ID: "user-" + name, Email: name + "@example.com", Name: name,
			PasswordHash: "x", EmailVerifiedAt: now, CreatedAt: now, UpdatedAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	for _, o := range []struct{ id, owner string }{{orgA, "user-ownerA"}, {orgB, "user-ownerB"}} {
		if err := e.Store.CreateOrg(ctx, store.Org{ID: o.id, Name: o.id, CreatedAt: now}, o.owner); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range []store.Member{{OrgID: orgA, UserID: "user-admin", Role: "admin"},
		{OrgID: orgA, UserID: "user-viewer", Role: "viewer"}, {OrgID: orgB, UserID: "user-outsider", Role: "admin"}} {
		m.CreatedAt, m.UpdatedAt = now, now
		if err := e.Store.AddMember(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"admin", "viewer", "outsider", "ownerA", "ownerB"} {
		e.users[name] = e.signIn(t, "user-"+name)
	}
}

// signIn starts an API-client session for userID through session.Complete.
func (e *testEnv) signIn(t testing.TB, userID string) testUser {
	rec := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodPost, "/login", nil)
	if err := e.sessions.Complete(r.Context(), rec, r, userID, []string{"pwd"}); err != nil {
		t.Fatal(err)
	}
	var resp session.TokenResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
		t.Fatal(err)
	}
	e.Logs.Plant(resp.AccessToken, resp.RefreshToken)
	return testUser{id: userID, access: resp.AccessToken, session: resp.SessionID}
}

// do sends a request to the function; hdr pairs are header name, value.
func (e *testEnv) do(t *testing.T, method, target, body string, hdr ...string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Add(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, r)
	return rec
}

func bearer(u testUser) []string { return []string{"Authorization", "Bearer " + u.access} }

// flow is one run of the connect flow, stopped before the callback.
type flow struct {
	authURL  *url.URL   // where /connect sent the browser
	cookie   string     // the flow cookie's value
	callback url.Values // what the platform sent back
}

// start calls POST /connect and lets the platform approve; it fails t
// unless connect answers the authorization URL and the platform redirects.
func (e *testEnv) start(t *testing.T, user testUser, platform, query string) flow {
	t.Helper()
	rec := e.do(t, http.MethodPost, "/connect/"+platform+"?"+query, "", bearer(user)...)
	f := flow{authURL: authorizationURL(t, rec), cookie: flowCookieOf(rec)}
	f.callback = e.approve(t, f.authURL.String())
	return f
}

// authorizationURL returns the authorization_url of a flow start's 200
// JSON answer, failing t on anything else.
func authorizationURL(t *testing.T, rec *httptest.ResponseRecorder) *url.URL {
	t.Helper()
	var body struct {
		AuthorizationURL string `json:"authorization_url"`
	}
	if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &body) != nil || body.AuthorizationURL == "" {
		t.Fatalf("flow start: %d %s", rec.Code, rec.Body)
	}
	u, err := url.Parse(body.AuthorizationURL)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// flowCookieOf returns the value of the flow cookie rec sets.
func flowCookieOf(rec *httptest.ResponseRecorder) string {
	for _, c := range rec.Result().Cookies() {
		if strings.HasPrefix(c.Name, flowCookie+"-") {
			return c.Value
		}
	}
	return ""
}

// approve sends the browser to the authorization server and returns the
// query of its redirect back to the callback.
func (e *testEnv) approve(t *testing.T, authURL string) url.Values {
	t.Helper()
	c := e.srv.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc.String(), callbackBase+"/") {
		t.Fatalf("authorize: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	e.Logs.Plant(loc.Query().Get("code"))
	return loc.Query()
}

// finish delivers the callback with the given cookie ("" for none).
func (e *testEnv) finish(t *testing.T, platform string, q url.Values, cookie string) *httptest.ResponseRecorder {
	t.Helper()
	var hdr []string
	if cookie != "" {
		hdr = []string{"Cookie", flowCookieName(cookie) + "=" + cookie}
	}
	return e.do(t, http.MethodGet, "/callback/"+platform+"?"+q.Encode(), "", hdr...)
}

// redirectQuery returns the query of a 302's Location, failing t on
// anything but a redirect to the app.
func redirectQuery(t *testing.T, rec *httptest.ResponseRecorder) url.Values {
	t.Helper()
	loc, err := url.Parse(rec.Header().Get("Location"))
	if rec.Code != http.StatusFound || err != nil || loc.Host != "app.example.com" {
		t.Fatalf("callback: %d Location %q, body %s", rec.Code, rec.Header().Get("Location"), rec.Body)
	}
	return loc.Query()
}

func (e *testEnv) connections(t *testing.T, org string) []store.Connection {
	t.Helper()
	cs, err := e.Store.ListConnections(context.Background(), org)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// stale moves the user's last authentication out of the step-up window.
func (e *testEnv) stale(t *testing.T, u testUser) {
	t.Helper()
	if err := e.Store.SetSessionAuth(context.Background(), u.session, []string{"pwd"}, 1, e.Clock.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
}
