package ui

import (
	"bytes"
	"encoding/json"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/shared/returnurl"
)

// passthrough stands in for the session check in these handler tests; the
// browser test in cmd/gatehouse runs the real one.
func passthrough(h http.Handler) http.Handler { return h }

func newTestHandler(t *testing.T, cfg Config) http.Handler {
	t.Helper()
	returns, err := returnurl.New("https://app.example.com", []string{"https://auth.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	h, err := New(cfg, Options{Returns: returns, Authenticate: passthrough})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	h.Register(mux)
	return mux
}

func get(t *testing.T, h http.Handler, target string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
	return rec
}

var nonceRE = regexp.MustCompile(`script-src 'nonce-([A-Za-z0-9_-]{22})'`)

// Every page renders (every string id it names is in the catalogue) under
// a CSP that allows nothing but its nonce'd script and style, with no
// inline handler or inline script without the nonce; each response gets a
// fresh nonce.
//
// Controls: APP-8
func TestPagesRenderUnderStrictCSP(t *testing.T) {
	if n := strings.Count(readSource(t, "ui.go"), `, h.page("`); n != len(pages) {
		t.Fatalf("%d page routes registered for %d pages", n, len(pages))
	}
	h := newTestHandler(t, Config{Providers: []string{"google", "github"}, SSO: true})
	seen := map[string]bool{}
	for path := range pages {
		t.Run(path, func(t *testing.T) {
			rec := get(t, h, "/ui/"+path)
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
			csp := rec.Header().Get("Content-Security-Policy")
			m := nonceRE.FindStringSubmatch(csp)
			if !strings.HasPrefix(csp, "default-src 'none'; ") || m == nil || !strings.Contains(csp, "frame-ancestors 'none'") ||
				strings.Contains(csp, "unsafe-") {
				t.Fatalf("CSP %q", csp)
			}
			if seen[m[1]] {
				t.Fatalf("nonce %s reused", m[1])
			}
			seen[m[1]] = true
			body := rec.Body.String()
			if regexp.MustCompile(`\son[a-z]+=`).MatchString(body) || strings.Contains(body, "javascript:") {
				t.Fatal("inline handler in the page")
			}
			for _, tag := range regexp.MustCompile(`<(script|style)[^>]*>`).FindAllString(body, -1) {
				if !strings.Contains(tag, `nonce="`+m[1]+`"`) {
					t.Fatalf("%s without the response's nonce", tag)
				}
			}
			if rec.Header().Get("Cache-Control") != "no-store" {
				t.Fatal("page is cacheable")
			}
		})
	}
}

func readSource(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestThemeAndStrings(t *testing.T) {
	dir := t.TempDir()
	fr := filepath.Join(dir, "fr.json")
	if err := os.WriteFile(fr, []byte(`{"signin.title": "Connexion", "js.error": "Erreur"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	h := newTestHandler(t, Config{ProductName: "Acme <Cloud>", LogoURL: "https://cdn.acme.example/logo.svg",
		PrimaryColor: "#ff0000", BackgroundColor: "#000000", SupportURL: "https://acme.example/help", StringsFile: fr})
	rec := get(t, h, "/ui/signin")
	body := rec.Body.String()
	for _, want := range []string{"<title>Connexion · Acme &lt;Cloud&gt;</title>", `src="https://cdn.acme.example/logo.svg"`,
		"--primary:#ff0000;--bg:#000000", `href="https://acme.example/help"`, `"error":"Erreur"`} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "img-src 'self' blob: https://cdn.acme.example;") {
		t.Errorf("CSP does not admit the logo: %q", csp)
	}
}

func TestConfigRefusals(t *testing.T) {
	dir := t.TempDir()
	typo := filepath.Join(dir, "typo.json")
	if err := os.WriteFile(typo, []byte(`{"signin.titel": "x"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"css injection in a color", Config{PrimaryColor: "red;}body{display:none"}, "GATEHOUSE_UI_PRIMARY_COLOR"},
		{"named color", Config{BackgroundColor: "red"}, "GATEHOUSE_UI_BACKGROUND_COLOR"},
		{"http logo", Config{LogoURL: "http://cdn.example/logo.png"}, "GATEHOUSE_UI_LOGO_URL"},
		{"scheme-relative logo", Config{LogoURL: "//cdn.example/logo.png"}, "GATEHOUSE_UI_LOGO_URL"},
		{"javascript support link", Config{SupportURL: "javascript:alert(1)"}, "GATEHOUSE_UI_SUPPORT_URL"},
		{"unknown string id", Config{StringsFile: typo}, "signin.titel"},
		{"missing strings file", Config{StringsFile: filepath.Join(dir, "none.json")}, "GATEHOUSE_UI_STRINGS"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cfg, Options{Authenticate: passthrough})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New = %v, want an error naming %s", err, tc.want)
			}
		})
	}
}

// The page hands the script only a return URL the return-URL policy
// accepts; anything else leaves it empty (the account page).
//
// Controls: OAUTH-3
func TestReturnURL(t *testing.T) {
	h := newTestHandler(t, Config{})
	tests := []struct{ name, returnTo, want string }{
		{"path on the app", "/dashboard", "https://app.example.com/dashboard"},
		{"allowed origin", "https://auth.example.com/auth/ui/account", "https://auth.example.com/auth/ui/account"},
		{"other origin", "https://evil.example/", ""},
		{"scheme-relative", "//evil.example/", ""},
		{"javascript", "javascript:alert(1)", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := get(t, h, "/ui/signin?return_to="+tc.returnTo).Body.String()
			if !strings.Contains(body, `data-return="`+tc.want+`"`) {
				t.Fatalf("want data-return=%q in the page", tc.want)
			}
		})
	}
}

func TestQRCode(t *testing.T) {
	h := newTestHandler(t, Config{})
	tests := []struct {
		name   string
		uri    string
		status int
	}{
		{"otpauth uri", "otpauth://totp/Gatehouse:ana@example.com?secret=JBSWY3DPEHPK3PXP&issuer=Gatehouse", http.StatusOK},
		{"other scheme", "https://evil.example/", http.StatusBadRequest},
		{"too long", "otpauth://totp/" + strings.Repeat("a", maxOTPAuthURI), http.StatusBadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body, _ := json.Marshal(map[string]string{"uri": tc.uri})
			req := httptest.NewRequest(http.MethodPost, "/ui/qr", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.status, rec.Body)
			}
			if tc.status != http.StatusOK {
				return
			}
			if _, err := png.Decode(rec.Body); err != nil || rec.Header().Get("Cache-Control") != "no-store" {
				t.Fatalf("not an uncacheable PNG: %v", err)
			}
		})
	}
}

// The sign-in page shows a button per configured provider and the
// organization SSO form, both on the OAuthCallback function, carrying an
// accepted return URL.
func TestProviderButtons(t *testing.T) {
	h := newTestHandler(t, Config{Providers: []string{"google", "github"}, SSO: true, OAuthURL: "https://id.example.com/oauth/"})
	rec := get(t, h, "/ui/signin?return_to=/next")
	if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self' https://id.example.com;") {
		t.Errorf("the SSO form's target is not in form-action: %q", csp)
	}
	body := rec.Body.String()
	for _, want := range []string{
		`href="https://id.example.com/oauth/signin/google?return_to=https%3a%2f%2fapp.example.com%2fnext">Continue with Google</a>`,
		`href="https://id.example.com/oauth/signin/github?return_to=https%3a%2f%2fapp.example.com%2fnext">Continue with GitHub</a>`,
		`action="https://id.example.com/oauth/signin/oidc"`,
		`name="return_to" value="https://app.example.com/next"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("sign-in page lacks %s", want)
		}
	}
	if body := get(t, newTestHandler(t, Config{}), "/ui/signin").Body.String(); strings.Contains(body, "/signin/google") ||
		strings.Contains(body, "/signin/oidc") {
		t.Error("buttons without configured providers or SSO")
	}
}

// Every string the script shows (S.name) is in the catalogue as js.name:
// a missing one would show "undefined" on the page (the passkey rename
// form's labels did, before this test).
func TestScriptStringsInCatalogue(t *testing.T) {
	cat, err := newCatalogue(nil)
	if err != nil {
		t.Fatal(err)
	}
	have := cat.Script()
	used := regexp.MustCompile(`\bS\.([a-z_]+)`).FindAllStringSubmatch(readSource(t, "static/app.js"), -1)
	if len(used) < 10 {
		t.Fatalf("found only %d uses of S. in app.js: is the pattern stale?", len(used))
	}
	for _, m := range used {
		if _, ok := have[m[1]]; !ok {
			t.Errorf("app.js shows S.%s, but the catalogue has no js.%s", m[1], m[1])
		}
	}
}

// The account page opened with ?required=mfa (what the SaaS does on a 403
// mfa_required) says why and carries the sign-in-again button; without it
// the page has neither. Every page carries the SSO-required notice that
// the script fills in on a 403 sso_required.
func TestRequiredStates(t *testing.T) {
	h := newTestHandler(t, Config{})
	with := get(t, h, "/ui/account?required=mfa").Body.String()
	without := get(t, h, "/ui/account").Body.String()
	for _, want := range []string{`id="mfa-required"`, catalogue["account.mfa_required"], `data-action="signin-again"`} {
		if !strings.Contains(with, want) {
			t.Errorf("account?required=mfa lacks %s", want)
		}
		if strings.Contains(without, want) {
			t.Errorf("account without required=mfa has %s", want)
		}
	}
	for _, p := range []string{"/ui/signin", "/ui/magic-link", "/ui/signup/confirm", "/ui/signin/confirm"} {
		if body := get(t, h, p).Body.String(); !strings.Contains(body, `id="sso-required-link"`) {
			t.Errorf("%s lacks the SSO-required notice", p)
		}
	}
}
