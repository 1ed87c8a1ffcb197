package verify_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/gatehouse-dev/gatehouse/functions/auth"
	"github.com/gatehouse-dev/gatehouse/functions/auth/authtest"
	"github.com/gatehouse-dev/gatehouse/shared/bootstrap/bootstraptest"
	"github.com/gatehouse-dev/gatehouse/shared/logging"
	"github.com/gatehouse-dev/gatehouse/verify"
)

const (
	password     = "lapwing fjord mulberry"
	clientSecret = "verify-test-0123456789-abcdefghijklmnop"
)

func startGatehouse(t *testing.T, b bootstraptest.Backend) (*authtest.Server, *verify.Verifier) {
	t.Helper()
	gh := authtest.Start(t, b, auth.Config{IntrospectionClients: logging.NewSecret("reports:" + clientSecret)})
	v, err := verify.New(verify.Config{Issuer: gh.Issuer(), Now: gh.Env.Clock.Now,
		IntrospectionURL: gh.URL + "/auth/token/introspect", ClientID: "reports", ClientSecret: clientSecret,
		IntrospectionCacheTTL: -1})
	if err != nil {
		t.Fatal(err)
	}
	return gh, v
}

// Against the real Auth function: tokens verify, organization-scoped ones
// carry the permissions the middleware requires, and introspection sees a
// role change and a sign-out at once, which local verification (by design,
// for the token's remaining lifetime) does not.
//
// Controls: AUTH-6, AUTHZ-2, AUTHZ-3
func TestAgainstGatehouse(t *testing.T) {
	for _, b := range bootstraptest.Backends {
		t.Run(b.Name, func(t *testing.T) {
			gh, v := startGatehouse(t, b)
			ctx := context.Background()
			owner := gh.SignUp(t, "owner@example.com", password)
			member := gh.SignUp(t, "member@example.com", password)
			org := gh.CreateOrg(t, owner.AccessToken, "Acme")
			gh.AddMember(t, org, owner.AccessToken, "member@example.com", "admin", member.AccessToken)

			c, err := v.Verify(ctx, member.AccessToken)
			if err != nil || c.Subject != member.UserID || c.SessionID != member.SessionID || c.Org != nil || c.Issuer != gh.URL {
				t.Fatalf("Verify = %+v, %v", c, err)
			}
			scoped := gh.Refresh(t, member.RefreshToken, org)
			c, err = v.Verify(ctx, scoped.AccessToken)
			if err != nil || c.Org == nil || c.Org.ID != org || c.Org.Role != "admin" || !c.Can("members.manage") || c.Can("billing.manage") {
				t.Fatalf("scoped Verify = %+v (%+v), %v", c, c.Org, err)
			}

			// The middleware and the permission helper.
			var seen atomic.Pointer[verify.Claims]
			ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				c, _ := verify.FromContext(r.Context())
				seen.Store(c)
			})
			mux := http.NewServeMux()
			mux.Handle("GET /me", v.Middleware(ok))
			mux.Handle("GET /orgs/{org}/members", v.Middleware(verify.RequireOrgPermission(
				func(r *http.Request) string { return r.PathValue("org") }, "members.manage")(ok)))
			mux.Handle("GET /billing", v.Middleware(verify.RequirePermission("billing.manage")(ok)))
			mux.Handle("GET /live", v.IntrospectMiddleware(verify.RequirePermission("members.manage")(ok)))
			for _, tc := range []struct {
				name, path, token string
				want              int
			}{
				{"no token", "/me", "", 401},
				{"garbage", "/me", "abc.def.ghi", 401},
				{"refresh token", "/me", member.RefreshToken, 401},
				{"plain token", "/me", member.AccessToken, 200},
				{"plain token on an org route", "/orgs/" + org + "/members", member.AccessToken, 403},
				{"scoped token", "/orgs/" + org + "/members", scoped.AccessToken, 200},
				{"scoped token, other org", "/orgs/org_other/members", scoped.AccessToken, 403},
				{"permission missing", "/billing", scoped.AccessToken, 403},
				{"introspected", "/live", scoped.AccessToken, 200},
			} {
				req := httptest.NewRequest("GET", tc.path, nil)
				if tc.token != "" {
					req.Header.Set("Authorization", "Bearer "+tc.token)
				}
				rec := httptest.NewRecorder()
				mux.ServeHTTP(rec, req)
				if rec.Code != tc.want {
					t.Errorf("%s: %d %s, want %d", tc.name, rec.Code, rec.Body, tc.want)
				}
				if rec.Code == 401 && rec.Header().Get("WWW-Authenticate") == "" {
					t.Errorf("%s: 401 without a challenge", tc.name)
				}
			}
			if c := seen.Load(); c == nil || c.Subject != member.UserID {
				t.Fatalf("claims in the context: %+v", c)
			}

			// Demoted to viewer: the signed token still says admin until it
			// expires; introspection says viewer now.
			gh.MustDo(t, "PATCH", "/orgs/"+org+"/members/"+member.UserID, map[string]string{"role": "viewer"},
				owner.AccessToken, http.StatusOK, nil)
			if c, err := v.Verify(ctx, scoped.AccessToken); err != nil || c.Org.Role != "admin" {
				t.Fatalf("local verification after the change: %+v, %v", c, err)
			}
			c, err = v.Introspect(ctx, scoped.AccessToken)
			if err != nil || c.Org.Role != "viewer" || !slices.Equal(c.Org.Permissions, []string{"read"}) {
				t.Fatalf("introspection after the change: %+v, %v", c, err)
			}
			req := httptest.NewRequest("GET", "/live", nil)
			req.Header.Set("Authorization", "Bearer "+scoped.AccessToken)
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, req)
			if rec.Code != http.StatusForbidden {
				t.Fatalf("introspected route after demotion: %d", rec.Code)
			}
			gh.MustDo(t, "POST", "/logout", nil, scoped.AccessToken, http.StatusNoContent, nil)
			if _, err := v.Introspect(ctx, scoped.AccessToken); !errors.Is(err, verify.ErrInactive) {
				t.Fatalf("introspection after sign-out: %v", err)
			}

			// Past its expiry (and the leeway) the token is refused locally.
			gh.Env.Clock.Advance(10*time.Minute + 31*time.Second)
			if _, err := v.Verify(ctx, member.AccessToken); !errors.Is(err, verify.ErrExpired) {
				t.Fatalf("expired token: %v", err)
			}
		})
	}
}

// An introspection cache answers repeated checks without asking again,
// and only for its TTL.
func TestIntrospectionCache(t *testing.T) {
	gh := authtest.Start(t, bootstraptest.Backend{Name: "sqlite", Open: bootstraptest.SQLite},
		auth.Config{IntrospectionClients: logging.NewSecret("reports:" + clientSecret)})
	var calls atomic.Int32
	client := &http.Client{Transport: countingTransport{&calls}}
	v, err := verify.New(verify.Config{Issuer: gh.Issuer(), Now: gh.Env.Clock.Now, HTTPClient: client,
		IntrospectionURL: gh.URL + "/auth/token/introspect", ClientID: "reports", ClientSecret: clientSecret})
	if err != nil {
		t.Fatal(err)
	}
	tk := gh.SignUp(t, "cache@example.com", password)
	for range 3 {
		if _, err := v.Introspect(context.Background(), tk.AccessToken); err != nil {
			t.Fatal(err)
		}
	}
	first := calls.Load() // one key fetch, one introspection
	gh.MustDo(t, "POST", "/logout", nil, tk.AccessToken, http.StatusNoContent, nil)
	if _, err := v.Introspect(context.Background(), tk.AccessToken); err != nil || calls.Load() != first {
		t.Fatalf("within the TTL: %v after %d calls (was %d)", err, calls.Load(), first)
	}
	gh.Env.Clock.Advance(6 * time.Second)
	if _, err := v.Introspect(context.Background(), tk.AccessToken); !errors.Is(err, verify.ErrInactive) {
		t.Fatalf("after the TTL: %v", err)
	}
	if first != 2 {
		t.Fatalf("first three checks made %d requests, want 2", first)
	}
	bad, _ := verify.New(verify.Config{Issuer: gh.Issuer(), Now: gh.Env.Clock.Now,
		IntrospectionURL: gh.URL + "/auth/token/introspect", ClientID: "reports", ClientSecret: clientSecret + "x"})
	tk = gh.SignUp(t, "cache2@example.com", password)
	if _, err := bad.Introspect(context.Background(), tk.AccessToken); !errors.Is(err, verify.ErrUnavailable) {
		t.Fatalf("wrong client secret: %v, want ErrUnavailable", err)
	}
}

type countingTransport struct{ n *atomic.Int32 }

func (c countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return http.DefaultTransport.RoundTrip(r)
}

// issuer is a fake Gatehouse key endpoint with a key of the test's own, to
// sign tokens with any claims.
type issuer struct {
	srv     *httptest.Server
	kid     string
	key     ed25519.PrivateKey
	fetches atomic.Int32
	down    atomic.Bool
}

func newIssuer(t *testing.T) *issuer {
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	is := &issuer{kid: "k1", key: key}
	is.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		is.fetches.Add(1)
		if is.down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
			{Key: key.Public(), KeyID: is.kid, Algorithm: "EdDSA", Use: "sig"}}})
	}))
	t.Cleanup(is.srv.Close)
	return is
}

func (is *issuer) sign(t *testing.T, key ed25519.PrivateKey, kid string, claims map[string]any) string {
	t.Helper()
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: key},
		(&jose.SignerOptions{}).WithHeader("kid", kid))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.Signed(s).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// Forged, expired, early, wrong-issuer, wrong-audience and incomplete
// tokens are refused with the matching typed error.
//
// Controls: AUTH-6, APP-5
func TestRejects(t *testing.T) {
	is := newIssuer(t)
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	v, err := verify.New(verify.Config{Issuer: "https://auth.example.com", JWKSURL: is.srv.URL, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	base := func() map[string]any {
		return map[string]any{"iss": "https://auth.example.com", "aud": "gatehouse", "sub": "u_1", "sid": "s_1",
			"iat": now.Unix(), "exp": now.Add(10 * time.Minute).Unix()}
	}
	with := func(k string, val any) map[string]any {
		c := base()
		if val == nil {
			delete(c, k)
		} else {
			c[k] = val
		}
		return c
	}
	_, otherKey, _ := ed25519.GenerateKey(rand.Reader)
	good := is.sign(t, is.key, is.kid, base())
	if c, err := v.Verify(context.Background(), good); err != nil || c.Subject != "u_1" {
		t.Fatalf("good token: %+v, %v", c, err)
	}
	orgClaims := base()
	orgClaims["org_id"], orgClaims["role"] = "org_1", "viewer"
	for _, tc := range []struct {
		name string
		tok  string
		want error
	}{
		{"empty", "", verify.ErrNoToken},
		{"garbage", "not.a.jwt", verify.ErrMalformed},
		{"alg none", noneToken(t, base()), verify.ErrMalformed},
		{"other key, our kid", is.sign(t, otherKey, is.kid, base()), verify.ErrSignature},
		{"unknown kid", is.sign(t, otherKey, "k-unknown", base()), verify.ErrUnknownKey},
		{"expired", is.sign(t, is.key, is.kid, with("exp", now.Add(-time.Minute).Unix())), verify.ErrExpired},
		{"no exp", is.sign(t, is.key, is.kid, with("exp", nil)), verify.ErrClaims},
		{"not yet valid", is.sign(t, is.key, is.kid, with("nbf", now.Add(5*time.Minute).Unix())), verify.ErrNotYetValid},
		{"issued in the future", is.sign(t, is.key, is.kid, with("iat", now.Add(5*time.Minute).Unix())), verify.ErrNotYetValid},
		{"wrong issuer", is.sign(t, is.key, is.kid, with("iss", "https://evil.example")), verify.ErrIssuer},
		{"wrong audience", is.sign(t, is.key, is.kid, with("aud", "billing")), verify.ErrAudience},
		{"no session", is.sign(t, is.key, is.kid, with("sid", nil)), verify.ErrClaims},
		{"org without permissions", is.sign(t, is.key, is.kid, orgClaims), verify.ErrClaims},
	} {
		_, err := v.Verify(context.Background(), tc.tok)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
		if verify.Status(err) != http.StatusUnauthorized {
			t.Errorf("%s: status %d", tc.name, verify.Status(err))
		}
	}
	// Within the leeway, a slightly expired token still passes.
	if _, err := v.Verify(context.Background(), is.sign(t, is.key, is.kid, with("exp", now.Add(-10*time.Second).Unix()))); err != nil {
		t.Fatalf("within leeway: %v", err)
	}
}

func noneToken(t *testing.T, claims map[string]any) string {
	t.Helper()
	body, _ := json.Marshal(claims)
	enc := func(b []byte) string { return base64URL(b) }
	return enc([]byte(`{"alg":"none","kid":"k1"}`)) + "." + enc(body) + "."
}

// Tokens naming unknown keys refetch the key set at most once per
// MinRefetch; an unreachable key set denies with ErrUnavailable (503),
// once the cached set is too old to trust.
//
// Controls: APP-5
func TestKeyRefetchBoundedAndFailClosed(t *testing.T) {
	is := newIssuer(t)
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	v, err := verify.New(verify.Config{Issuer: "https://auth.example.com", JWKSURL: is.srv.URL, Now: clock,
		MinRefetch: 10 * time.Second, KeysMaxAge: 5 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	claims := map[string]any{"iss": "https://auth.example.com", "aud": "gatehouse", "sub": "u", "sid": "s",
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	for i := range 200 {
		tok := is.sign(t, is.key, "made-up-"+string(rune('a'+i%26)), claims)
		if _, err := v.Verify(context.Background(), tok); !errors.Is(err, verify.ErrUnknownKey) {
			t.Fatalf("unknown kid: %v", err)
		}
	}
	if n := is.fetches.Load(); n != 1 {
		t.Fatalf("200 unknown kids fetched the key set %d times, want 1", n)
	}
	// A key published later is found after MinRefetch.
	is.kid = "k2"
	now = now.Add(11 * time.Second)
	claims["iat"] = now.Unix()
	if _, err := v.Verify(context.Background(), is.sign(t, is.key, "k2", claims)); err != nil {
		t.Fatalf("new key after MinRefetch: %v", err)
	}
	// Key endpoint down: the cached set serves until it is 2*KeysMaxAge old.
	is.down.Store(true)
	now = now.Add(6 * time.Minute)
	claims["iat"] = now.Unix()
	if _, err := v.Verify(context.Background(), is.sign(t, is.key, "k2", claims)); err != nil {
		t.Fatalf("cached set during a short outage: %v", err)
	}
	now = now.Add(5 * time.Minute)
	claims["iat"] = now.Unix()
	_, err = v.Verify(context.Background(), is.sign(t, is.key, "k2", claims))
	if !errors.Is(err, verify.ErrUnavailable) || verify.Status(err) != http.StatusServiceUnavailable {
		t.Fatalf("key set too old: %v", err)
	}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("Authorization", "Bearer "+is.sign(t, is.key, "k2", claims))
	v.Middleware(http.NotFoundHandler()).ServeHTTP(rec, req)
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("middleware with the keys unavailable: %d", rec.Code)
	}
}

// Verify never panics and returns only this package's errors, whatever the
// token.
func FuzzVerify(f *testing.F) {
	for _, s := range []string{"", "a.b.c", "eyJhbGciOiJFZERTQSJ9.e30.", "....", "eyJhbGciOiJub25lIn0.e30."} {
		f.Add(s)
	}
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	v, err := verify.New(verify.Config{Issuer: "https://auth.example.com", JWKSURL: "http://127.0.0.1:1/unreachable",
		Now: func() time.Time { return now }, HTTPClient: &http.Client{Timeout: 100 * time.Millisecond}})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		_, err := v.Verify(context.Background(), tok)
		if err == nil {
			t.Fatal("a token verified against an unreachable key set")
		}
		if s := verify.Status(err); s != 401 && s != 503 {
			t.Fatalf("status %d", s)
		}
	})
}
