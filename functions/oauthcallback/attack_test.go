package oauthcallback

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/bootstrap/bootstraptest"
	"github.com/gatehouse-dev/gatehouse/shared/envelope"
	"github.com/gatehouse-dev/gatehouse/shared/oauthstate"
)

func cloneQuery(q url.Values) url.Values {
	out := url.Values{}
	for k, v := range q {
		out[k] = append([]string(nil), v...)
	}
	return out
}

// mintState issues a state with the function's own keys, as an attacker
// who could choose its content cannot, to test the checks after the seal.
func (e *testEnv) mintState(t *testing.T, st oauthstate.State) (string, oauthstate.State) {
	t.Helper()
	tok, st, err := oauthstate.New(e.Keyring, e.Clock.Now, e.Rand).Issue(context.Background(), st)
	if err != nil {
		t.Fatal(err)
	}
	return tok, st
}

// renewSessions signs the users in again (after the clock moved past
// their access tokens) and returns the admin.
func (e *testEnv) renewSessions(t *testing.T) testUser {
	for _, name := range []string{"admin", "viewer", "outsider"} {
		e.users[name] = e.signIn(t, "user-"+name)
	}
	return e.users["admin"]
}

// sealState seals st as it is, bypassing Issue (which always sets a
// verifier), with the function's real state key.
func (e *testEnv) sealState(t *testing.T, st oauthstate.State) string {
	t.Helper()
	payload, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	ct, err := e.Keyring.Seal(context.Background(), envelope.PurposeOAuthState, envelope.Binding{Field: "oauth.state"}, payload)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(ct)
}

// Each attack on the callback is refused before any credential is
// written: the browser goes back to the app with an error code (or gets a
// plain error page when the state cannot be trusted), and no connection
// exists afterwards.
//
// Controls: OAUTH-2, OAUTH-3, APP-6, AUTHZ-3
func TestCallbackAttacks(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *testEnv) {
		admin := e.users["admin"]
		for _, tc := range []struct {
			name  string
			setup func(t *testing.T) (url.Values, string) // callback query, cookie
			plain bool                                    // plain error page instead of a redirect
			code  string
		}{
			{"tampered state", func(t *testing.T) (url.Values, string) {
				f := e.start(t, admin, "google_ads", "org=org-a&return_to=/i")
				q := cloneQuery(f.callback)
				st := []byte(q.Get("state"))
				st[len(st)/2] ^= 0x01
				q.Set("state", string(st))
				return q, f.cookie
			}, true, ""},
			{"expired state", func(t *testing.T) (url.Values, string) {
				f := e.start(t, admin, "google_ads", "org=org-a&return_to=/i")
				e.Clock.Advance(oauthstate.TTL)
				admin = e.renewSessions(t)
				return f.callback, f.cookie
			}, false, "expired_state"},
			{"other browser (no cookie)", func(t *testing.T) (url.Values, string) {
				f := e.start(t, admin, "google_ads", "org=org-a&return_to=/i")
				return f.callback, ""
			}, false, "invalid_state"},
			{"other browser (other flow's cookie)", func(t *testing.T) (url.Values, string) {
				f1 := e.start(t, admin, "google_ads", "org=org-a&return_to=/i")
				f2 := e.start(t, admin, "google_ads", "org=org-a&return_to=/i")
				return f1.callback, f2.cookie
			}, false, "invalid_state"},
			{"state for an organization the user is not in", func(t *testing.T) (url.Values, string) {
				f := e.start(t, admin, "google_ads", "org=org-a&return_to=/i")
				tok, st := e.mintState(t, oauthstate.State{Kind: oauthstate.KindConnect, OrgID: orgB, UserID: admin.id,
					Platform: "google_ads", ReturnTo: "https://app.example.com/i"})
				q := cloneQuery(f.callback)
				q.Set("state", tok)
				return q, st.Nonce
			}, false, "forbidden"},
			{"state for another platform's callback", func(t *testing.T) (url.Values, string) {
				tok, st := e.mintState(t, oauthstate.State{Kind: oauthstate.KindConnect, OrgID: orgA, UserID: admin.id,
					Platform: "shopify", Shop: shop, ReturnTo: "https://app.example.com/i"})
				f := e.start(t, admin, "google_ads", "org=org-a&return_to=/i")
				q := cloneQuery(f.callback)
				q.Set("state", tok)
				return q, st.Nonce
			}, false, "invalid_state"},
			{"sign-in state on the connect callback", func(t *testing.T) (url.Values, string) {
				tok, st := e.mintState(t, oauthstate.State{Kind: oauthstate.KindSignIn, Platform: "google_ads",
					ReturnTo: "https://app.example.com/i"})
				return url.Values{"state": {tok}, "code": {"x"}}, st.Nonce
			}, true, ""},
			{"state without PKCE verifier", func(t *testing.T) (url.Values, string) {
				f := e.start(t, admin, "google_ads", "org=org-a&return_to=/i")
				tok := e.sealState(t, oauthstate.State{Kind: oauthstate.KindConnect, OrgID: orgA, UserID: admin.id,
					Platform: "google_ads", ReturnTo: "https://app.example.com/i", Nonce: f.cookie,
					ExpiresAt: e.Clock.Now().Add(time.Minute)})
				q := cloneQuery(f.callback)
				q.Set("state", tok)
				return q, f.cookie
			}, true, ""},
			{"code injection (attacker's code, victim's state)", func(t *testing.T) (url.Values, string) {
				victim := e.start(t, admin, "google_ads", "org=org-a&return_to=/i")
				attacker := e.start(t, e.users["outsider"], "google_ads", "org=org-b&return_to=/i")
				q := cloneQuery(victim.callback)
				q.Set("code", attacker.callback.Get("code"))
				return q, victim.cookie
			}, false, "exchange_failed"},
			{"issuer mix-up", func(t *testing.T) (url.Values, string) {
				f := e.start(t, admin, "google_ads", "org=org-a&return_to=/i")
				q := cloneQuery(f.callback)
				q.Set("iss", "https://evil.example.com")
				return q, f.cookie
			}, false, "invalid_issuer"},
			{"user denied consent", func(t *testing.T) (url.Values, string) {
				f := e.start(t, admin, "google_ads", "org=org-a&return_to=/i")
				q := cloneQuery(f.callback)
				q.Del("code")
				q.Set("error", "access_denied")
				return q, f.cookie
			}, false, "access_denied"},
			{"no code", func(t *testing.T) (url.Values, string) {
				f := e.start(t, admin, "google_ads", "org=org-a&return_to=/i")
				q := cloneQuery(f.callback)
				q.Del("code")
				return q, f.cookie
			}, false, "invalid_request"},
			{"no state", func(t *testing.T) (url.Values, string) {
				return url.Values{"code": {"x"}}, "y"
			}, true, ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				q, cookie := tc.setup(t)
				before := e.srv.Exchanges()
				rec := e.finish(t, "google_ads", q, cookie)
				if tc.plain {
					if rec.Code != http.StatusBadRequest || rec.Header().Get("Location") != "" || strings.Contains(rec.Body.String(), "oauth") {
						t.Fatalf("want a plain 400, got %d %q %s", rec.Code, rec.Header().Get("Location"), rec.Body)
					}
				} else if got := redirectQuery(t, rec).Get("oauth_error"); got != tc.code {
					t.Fatalf("oauth_error = %q, want %q", got, tc.code)
				}
				if tc.code != "exchange_failed" && e.srv.Exchanges() != before {
					t.Fatal("the code was sent to the platform")
				}
				if n := len(e.connections(t, orgA)) + len(e.connections(t, orgB)); n != 0 {
					t.Fatalf("%d connections written", n)
				}
			})
		}
	})
}

// A state works once: the replay of a completed callback is refused and
// its code is never sent again.
//
// Controls: OAUTH-2
func TestCallbackReplay(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *testEnv) {
		f := e.start(t, e.users["admin"], "google_ads", "org=org-a&return_to=/i")
		if got := redirectQuery(t, e.finish(t, "google_ads", f.callback, f.cookie)); got.Get("oauth_connected") == "" {
			t.Fatalf("first callback: %v", got)
		}
		exchanges := e.srv.Exchanges()
		got := redirectQuery(t, e.finish(t, "google_ads", f.callback, f.cookie))
		if got.Get("oauth_error") != "invalid_state" || e.srv.Exchanges() != exchanges {
			t.Fatalf("replay: %v, exchanges %d -> %d", got, exchanges, e.srv.Exchanges())
		}
		if cs := e.connections(t, orgA); len(cs) != 1 {
			t.Fatalf("%d connections", len(cs))
		}
	})
}

// A member removed between connect and callback cannot complete the flow.
//
// Controls: AUTHZ-2, AUTHZ-3
func TestCallbackRechecksMembership(t *testing.T) {
	e := newTestEnv(t, bootstraptest.Backends[0])
	f := e.start(t, e.users["admin"], "google_ads", "org=org-a&return_to=/i")
	if _, err := e.Store.RemoveMember(context.Background(), orgA, "user-admin"); err != nil {
		t.Fatal(err)
	}
	if got := redirectQuery(t, e.finish(t, "google_ads", f.callback, f.cookie)).Get("oauth_error"); got != "forbidden" {
		t.Fatalf("oauth_error = %q, want forbidden", got)
	}
	if len(e.connections(t, orgA)) != 0 {
		t.Fatal("connection written")
	}
}

// Shopify: the callback's hmac and shop are verified; a good one connects
// the shop, which ShopConnected then finds.
//
// Controls: OAUTH-2
func TestShopifyCallback(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *testEnv) {
		admin := e.users["admin"]
		startShop := func() flow {
			rec := e.do(t, http.MethodPost, "/connect/shopify?org=org-a&return_to=/i&shop="+shop, "", bearer(admin)...)
			loc := authorizationURL(t, rec)
			if loc.Query().Get("shop") != shop || loc.Query().Get("scope") != "read_orders" {
				t.Fatalf("connect: %s", loc)
			}
			return flow{authURL: loc, cookie: flowCookieOf(rec), callback: e.approve(t, loc.String())}
		}
		for _, tc := range []struct {
			name   string
			change func(url.Values)
		}{
			{"tampered hmac", func(q url.Values) { q.Set("hmac", hex.EncodeToString(make([]byte, 32))) }},
			{"other shop", func(q url.Values) { q.Set("shop", "evil.myshopify.com") }},
			{"no hmac", func(q url.Values) { q.Del("hmac") }},
		} {
			f := startShop()
			q := cloneQuery(f.callback)
			tc.change(q)
			if got := redirectQuery(t, e.finish(t, "shopify", q, f.cookie)).Get("oauth_error"); got == "" {
				t.Fatalf("%s: accepted", tc.name)
			}
		}
		f := startShop()
		if got := redirectQuery(t, e.finish(t, "shopify", f.callback, f.cookie)); got.Get("oauth_connected") != "shopify" {
			t.Fatalf("good callback: %v", got)
		}
		org, err := e.Store.ShopConnected(context.Background(), shop)
		if err != nil || org != orgA {
			t.Fatalf("ShopConnected = %q, %v", org, err)
		}
	})
}

// FuzzCallback sends arbitrary query strings to the callback: never a 5xx
// (nor a panic), never a redirect off the app, never a connection.
//
// Controls: APP-6, OAUTH-3
func FuzzCallback(f *testing.F) {
	for _, s := range []string{"", "state=x&code=y", "state=%zz", "code=a&code=b&state=", "iss=https://evil&state=AAAA",
		"error=access_denied&state=" + strings.Repeat("A", 5000)} {
		f.Add(s)
	}
	e := newTestEnv(f, bootstraptest.Backends[0])
	f.Fuzz(func(t *testing.T, raw string) {
		r := httptest.NewRequest(http.MethodGet, "/callback/google_ads", nil)
		r.URL.RawQuery = raw
		r.AddCookie(&http.Cookie{Name: flowCookieName("fuzz-nonce"), Value: "fuzz-nonce"})
		rec := httptest.NewRecorder()
		e.h.ServeHTTP(rec, r)
		if rec.Code >= 500 {
			t.Fatalf("status %d for %q", rec.Code, raw)
		}
		if loc := rec.Header().Get("Location"); loc != "" && !strings.HasPrefix(loc, "https://app.example.com/") {
			t.Fatalf("redirect to %q", loc)
		}
		if len(e.connections(t, orgA)) != 0 {
			t.Fatal("a connection was written")
		}
	})
}
