package provider

import (
	"context"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/gatehouse-dev/gatehouse/shared/logging"
	"github.com/gatehouse-dev/gatehouse/shared/outbound/outboundtest"
)

func allConfigured(t *testing.T, override func(*Settings)) *Registry {
	t.Helper()
	settings := map[string]Settings{}
	for _, p := range Builtin() {
		s := Settings{ClientID: "id-" + p.Name, ClientSecret: logging.NewSecret("secret-" + p.Name)}
		if override != nil {
			override(&s)
		}
		settings[p.Name] = s
	}
	r, err := NewRegistry(Builtin(), settings)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// readOnlyExceptions are scopes that grant more than reading because the
// platform offers nothing narrower.
var readOnlyExceptions = map[string]string{
	"https://www.googleapis.com/auth/business.manage": "Business Profile has no read-only scope",
	"https://www.googleapis.com/auth/adwords":         "Google Ads has a single scope",
}

// Controls: OAUTH-5
func TestScopesAreMinimal(t *testing.T) {
	for _, p := range Builtin() {
		if len(p.Scopes) == 0 {
			t.Errorf("%s: no scopes", p.Name)
		}
		for _, s := range p.Scopes {
			lower := strings.ToLower(s)
			if strings.ContainsAny(s, "*") || strings.HasSuffix(lower, "/auth/cloud-platform") || lower == "email" {
				t.Errorf("%s: wildcard or broad scope %q", p.Name, s)
			}
			if _, ok := readOnlyExceptions[s]; ok {
				continue
			}
			if !strings.HasPrefix(lower, "read_") && !strings.HasPrefix(lower, "r_") && !strings.HasSuffix(lower, "_read") &&
				!strings.HasSuffix(lower, ".readonly") {
				t.Errorf("%s: scope %q is not read-only", p.Name, s)
			}
		}
	}
}

// Controls: OAUTH-2, OAUTH-4, OAUTH-5
func TestAuthCodeURL(t *testing.T) {
	r := allConfigured(t, nil)
	verifier := "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk" // RFC 7636 appendix B
	for _, tc := range []struct {
		name  string
		shop  string
		host  string
		want  map[string]string
		scope string
	}{
		{GoogleAds, "", "accounts.google.com", map[string]string{"access_type": "offline", "prompt": "consent"},
			"https://www.googleapis.com/auth/adwords"},
		{GoogleBusinessProfile, "", "accounts.google.com", map[string]string{"access_type": "offline", "prompt": "consent"},
			"https://www.googleapis.com/auth/business.manage"},
		{LinkedIn, "", "www.linkedin.com", nil, "r_ads r_ads_reporting"},
		{MetaAds, "", "www.facebook.com", nil, "ads_read"},
		{Shopify, "acme.myshopify.com", "acme.myshopify.com", nil, "read_orders"},
	} {
		p, err := r.Lookup(tc.name)
		if err != nil {
			t.Fatal(err)
		}
		c, err := p.Config("https://gh.example.com/oauth/callback/"+tc.name, tc.shop)
		if err != nil {
			t.Fatal(err)
		}
		u, _ := url.Parse(p.AuthCodeURL(c, "STATE", verifier))
		q := u.Query()
		if u.Host != tc.host || q.Get("state") != "STATE" || q.Get("client_id") != "id-"+tc.name || q.Get("response_type") != "code" {
			t.Errorf("%s: %s", tc.name, u)
		}
		// RFC 7636 appendix B: the S256 challenge of that verifier.
		if q.Get("code_challenge") != "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM" || q.Get("code_challenge_method") != "S256" {
			t.Errorf("%s: PKCE %q %q", tc.name, q.Get("code_challenge"), q.Get("code_challenge_method"))
		}
		if q.Get("scope") != tc.scope {
			t.Errorf("%s: scope %q, want %q", tc.name, q.Get("scope"), tc.scope)
		}
		for k, v := range tc.want {
			if q.Get(k) != v {
				t.Errorf("%s: %s=%q, want %q", tc.name, k, q.Get(k), v)
			}
		}
		if strings.Contains(u.String(), "secret") {
			t.Errorf("%s: client secret in the authorization URL", tc.name)
		}
	}
}

func TestRegistry(t *testing.T) {
	r, err := NewRegistry(Builtin(), map[string]Settings{GoogleAds: {ClientID: "x", ClientSecret: logging.NewSecret("y"),
		TokenURL: "http://127.0.0.1:9/token"}})
	if err != nil {
		t.Fatal(err)
	}
	if names := r.Names(); len(names) != 1 || names[0] != GoogleAds {
		t.Fatalf("Names = %v: unconfigured platforms must be unavailable", names)
	}
	if _, err := r.Lookup(LinkedIn); !errors.Is(err, ErrUnknown) {
		t.Fatalf("Lookup(unconfigured) err = %v", err)
	}
	if p, _ := r.Lookup(GoogleAds); p.TokenURL != "http://127.0.0.1:9/token" || p.AuthURL == "" {
		t.Fatalf("override not applied: %+v", p.Platform)
	}
	for _, tc := range []struct {
		name string
		s    Settings
	}{
		{"no secret", Settings{ClientID: "x"}},
		{"bad endpoint", Settings{ClientID: "x", ClientSecret: logging.NewSecret("y"), AuthURL: "javascript:x"}},
		{"relative endpoint", Settings{ClientID: "x", ClientSecret: logging.NewSecret("y"), TokenURL: "/token"}},
	} {
		if _, err := NewRegistry(Builtin(), map[string]Settings{LinkedIn: tc.s}); err == nil {
			t.Errorf("%s: NewRegistry accepted it", tc.name)
		}
	}
}

func TestNormalizeShop(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"plain", "acme.myshopify.com", "acme.myshopify.com"},
		{"upper-case", "ACME-2.MyShopify.com", "acme-2.myshopify.com"},
		{"other domain", "acme.example.com", ""},
		{"suffix trick", "acme.myshopify.com.evil.com", ""},
		{"with scheme", "https://acme.myshopify.com", ""},
		{"with port", "acme.myshopify.com:443", ""},
		{"with path", "acme.myshopify.com/x", ""},
		{"userinfo", "evil.com@acme.myshopify.com", ""},
		{"leading hyphen", "-acme.myshopify.com", ""},
		{"empty label", ".myshopify.com", ""},
	} {
		got, err := NormalizeShop(tc.in)
		if got != tc.want || (err == nil) != (tc.want != "") {
			t.Errorf("%s: NormalizeShop(%q) = %q, %v", tc.name, tc.in, got, err)
		}
	}
}

// Controls: OAUTH-2
func TestShopifyCallbackHMAC(t *testing.T) {
	r := allConfigured(t, nil)
	p, _ := r.Lookup(Shopify)
	q := url.Values{"code": {"abc"}, "shop": {"acme.myshopify.com"}, "state": {"s"}, "timestamp": {"1700000000"}}
	q.Set("hmac", hex.EncodeToString(p.CallbackHMAC(q)))
	if err := p.VerifyCallbackHMAC(q); err != nil {
		t.Fatalf("valid hmac: %v", err)
	}
	for _, tc := range []struct {
		name   string
		change func(url.Values)
	}{
		{"no hmac", func(v url.Values) { v.Del("hmac") }},
		{"two hmacs", func(v url.Values) { v.Add("hmac", v.Get("hmac")) }},
		{"changed shop", func(v url.Values) { v.Set("shop", "evil.myshopify.com") }},
		{"changed code", func(v url.Values) { v.Set("code", "abd") }},
		{"added param", func(v url.Values) { v.Set("x", "1") }},
		{"not hex", func(v url.Values) { v.Set("hmac", "zz") }},
	} {
		v := url.Values{}
		for k, vs := range q {
			v[k] = append([]string(nil), vs...)
		}
		tc.change(v)
		if err := p.VerifyCallbackHMAC(v); !errors.Is(err, ErrBadHMAC) {
			t.Errorf("%s: err = %v, want ErrBadHMAC", tc.name, err)
		}
	}
	g, _ := r.Lookup(GoogleAds)
	if err := g.VerifyCallbackHMAC(url.Values{}); err != nil {
		t.Fatalf("non-Shopify platform: %v", err)
	}
}

// Controls: CRED-6
func TestRevoke(t *testing.T) {
	var mu sync.Mutex
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, r.Method+" "+r.URL.Path+" "+string(body)+" "+r.Header.Get("Authorization")+r.Header.Get("X-Shopify-Access-Token"))
		mu.Unlock()
		if strings.Contains(r.URL.Path, "fail") {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	defer srv.Close()
	r := allConfigured(t, func(s *Settings) { s.RevokeURL = srv.URL + "/" + strings.TrimPrefix(s.ClientID, "id-") })
	for _, tc := range []struct {
		name, platform, shop, want string
	}{
		{"rfc7009 refresh token", GoogleAds, "", "POST /google_ads client_id=id-google_ads&client_secret=secret-google_ads&token=RT&token_type_hint=refresh_token "},
		{"graph permissions", MetaAds, "", "DELETE /meta_ads  Bearer AT"},
		{"shopify", Shopify, "acme.myshopify.com", "DELETE /shopify  AT"},
	} {
		got = nil
		p, _ := r.Lookup(tc.platform)
		rt := "RT"
		if tc.platform != GoogleAds {
			rt = ""
		}
		if err := p.Revoke(context.Background(), outboundtest.Client(t, srv), tc.shop, "AT", rt); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if len(got) != 1 || got[0] != tc.want {
			t.Errorf("%s: request %q, want %q", tc.name, got, tc.want)
		}
	}
	failing := allConfigured(t, func(s *Settings) { s.RevokeURL = srv.URL + "/fail" })
	p, _ := failing.Lookup(LinkedIn)
	if err := p.Revoke(context.Background(), outboundtest.Client(t, srv), "", "AT", ""); err == nil || strings.Contains(err.Error(), "AT") {
		t.Fatalf("failed revocation: err = %v", err)
	}
}
