// Package ui serves Gatehouse's hosted pages under /ui/ of the Auth
// function: sign-in, sign-up and its confirmation, password reset, the
// magic-link landing, the MFA step, invitation acceptance and the account
// security page.
//
// The pages are server-rendered html/template documents with a strict
// Content-Security-Policy carrying a fresh nonce per response; one small
// script (static/app.js) submits their forms to the function's existing
// JSON routes in browser mode (cookies and the CSRF header) and runs the
// WebAuthn ceremonies. The pages add no way of signing in of their own.
// Every string they show comes from one [Catalogue].
package ui

import (
	"bytes"
	"crypto/rand"
	"embed"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/gatehouse-dev/gatehouse/shared/config"
	"github.com/gatehouse-dev/gatehouse/shared/returnurl"
	"github.com/gatehouse-dev/gatehouse/shared/web"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Config is how a SaaS themes the pages. The zero Config is usable.
type Config struct {
	ProductName     string   // GATEHOUSE_UI_PRODUCT_NAME; "Gatehouse"
	LogoURL         string   // GATEHOUSE_UI_LOGO_URL: an https URL or a path on this origin; none when empty
	PrimaryColor    string   // GATEHOUSE_UI_PRIMARY_COLOR, #rrggbb; #1a56db
	BackgroundColor string   // GATEHOUSE_UI_BACKGROUND_COLOR, #rrggbb; #f4f5f7
	SupportURL      string   // GATEHOUSE_UI_SUPPORT_URL: a link in every page's footer; none when empty
	StringsFile     string   // GATEHOUSE_UI_STRINGS: JSON file of string overrides (translations)
	OAuthURL        string   // GATEHOUSE_UI_OAUTH_URL: where the OAuthCallback function is served; "/oauth"
	Providers       []string // sign-in providers with a button: those whose GATEHOUSE_SIGNIN_<NAME>_CLIENT_ID is set
	SSO             bool     // GATEHOUSE_UI_SSO: show the organization SSO form; true
}

var colorRE = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)

// LoadConfig reads the GATEHOUSE_UI_* settings, recording problems in l.
func LoadConfig(l *config.Loader) Config {
	c := Config{
		ProductName:     l.String("GATEHOUSE_UI_PRODUCT_NAME", ""),
		LogoURL:         l.String("GATEHOUSE_UI_LOGO_URL", ""),
		PrimaryColor:    l.String("GATEHOUSE_UI_PRIMARY_COLOR", ""),
		BackgroundColor: l.String("GATEHOUSE_UI_BACKGROUND_COLOR", ""),
		SupportURL:      l.String("GATEHOUSE_UI_SUPPORT_URL", ""),
		StringsFile:     l.String("GATEHOUSE_UI_STRINGS", ""),
		OAuthURL:        l.String("GATEHOUSE_UI_OAUTH_URL", ""),
		SSO:             l.Bool("GATEHOUSE_UI_SSO", true),
	}
	for _, p := range []string{"google", "github"} {
		if l.String("GATEHOUSE_SIGNIN_"+strings.ToUpper(p)+"_CLIENT_ID", "") != "" {
			c.Providers = append(c.Providers, p)
		}
	}
	if err := c.check(); err != nil {
		l.Fail(err.name, err.reason)
	}
	return c
}

type configError struct{ name, reason string }

// check validates what ends up in a page's CSS, CSP or links.
func (c Config) check() *configError {
	for name, v := range map[string]string{"GATEHOUSE_UI_PRIMARY_COLOR": c.PrimaryColor,
		"GATEHOUSE_UI_BACKGROUND_COLOR": c.BackgroundColor} {
		if v != "" && !colorRE.MatchString(v) {
			return &configError{name, "not a #rrggbb color"}
		}
	}
	if c.LogoURL != "" {
		if _, ok := imageSource(c.LogoURL); !ok {
			return &configError{"GATEHOUSE_UI_LOGO_URL", "not an https URL or a path starting with /"}
		}
	}
	if c.SupportURL != "" && !webLink(c.SupportURL) {
		return &configError{"GATEHOUSE_UI_SUPPORT_URL", "not an http(s) URL or a mailto: link"}
	}
	if c.OAuthURL != "" && !strings.HasPrefix(c.OAuthURL, "/") && !webLink(c.OAuthURL) {
		return &configError{"GATEHOUSE_UI_OAUTH_URL", "not a path or an http(s) URL"}
	}
	return nil
}

// imageSource returns the CSP source a logo URL needs ("" for a path on
// this origin, covered by 'self').
func imageSource(raw string) (string, bool) {
	if strings.HasPrefix(raw, "/") && !strings.HasPrefix(raw, "//") {
		return "", true
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil {
		return "", false
	}
	return u.Scheme + "://" + u.Host, true
}

func webLink(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	return (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" || u.Scheme == "mailto" && u.Opaque != ""
}

// Options are what the pages need from the function.
type Options struct {
	Logger *slog.Logger // slog.Default() when nil
	Rand   io.Reader    // nonces; crypto/rand when nil
	// Returns decides where the pages may send a user after sign-in
	// (the return_to query parameter); nil accepts none.
	Returns *returnurl.Policy
	// Authenticate admits signed-in browser requests (session cookie,
	// allowed Origin, CSRF header); it guards POST /ui/qr.
	Authenticate func(http.Handler) http.Handler
}

// Handler serves the pages.
type Handler struct {
	cfg     Config
	opts    Options
	strings Catalogue
	pages   map[string]*template.Template
	script  []byte // the strings the script shows, as JSON
	imgSrc  string // CSP img-src
	selfSrc string // CSP connect-src and form-action: 'self' and the OAuthCallback function's origin
	static  http.Handler
}

// The pages, by the path under /ui/ they are served at.
var pages = map[string]string{
	"signin":             "signin.html",
	"signup":             "signup.html",
	"signup/confirm":     "confirm.html",
	"forgot-password":    "forgot.html",
	"reset-password":     "reset.html",
	"magic-link":         "magic.html",
	"invitations/accept": "invite.html",
	"signin/confirm":     "provider_confirm.html",
	"account":            "account.html",
}

// New returns the pages' handler.
func New(cfg Config, opts Options) (*Handler, error) {
	if err := cfg.check(); err != nil {
		return nil, fmt.Errorf("%s: %s", err.name, err.reason)
	}
	var overrides map[string]string
	if cfg.StringsFile != "" {
		var err error
		if overrides, err = readOverrides(cfg.StringsFile); err != nil {
			return nil, fmt.Errorf("GATEHOUSE_UI_STRINGS: %w", err)
		}
	}
	cat, err := newCatalogue(overrides)
	if err != nil {
		return nil, fmt.Errorf("GATEHOUSE_UI_STRINGS: %w", err)
	}
	if opts.Rand == nil {
		opts.Rand = rand.Reader
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if cfg.OAuthURL == "" {
		cfg.OAuthURL = "/oauth"
	}
	cfg.OAuthURL = strings.TrimSuffix(cfg.OAuthURL, "/")
	h := &Handler{cfg: cfg, opts: opts, strings: cat, pages: map[string]*template.Template{}}
	if h.script, err = json.Marshal(cat.Script()); err != nil {
		return nil, err
	}
	funcs := template.FuncMap{"t": cat.lookup, "tf": func(id string, args ...any) (string, error) {
		f, err := cat.lookup(id)
		return fmt.Sprintf(f, args...), err
	}}
	for path, file := range pages {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/mfa.html",
			"templates/"+file)
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", file, err)
		}
		h.pages[path] = t
	}
	h.imgSrc = "'self' blob:"
	if src, _ := imageSource(cfg.LogoURL); src != "" {
		h.imgSrc += " " + src
	}
	h.selfSrc = "'self'"
	if u, err := url.Parse(cfg.OAuthURL); err == nil && u.Host != "" {
		h.selfSrc += " " + u.Scheme + "://" + u.Host
	}
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, err
	}
	h.static = http.StripPrefix("/ui/static/", http.FileServerFS(sub))
	return h, nil
}

// Register adds the pages' routes to mux.
func (h *Handler) Register(mux *http.ServeMux) {
	// One literal pattern per page, so docs/apicheck finds each route.
	mux.Handle("GET /ui/signin", h.page("signin"))
	mux.Handle("GET /ui/signup", h.page("signup"))
	mux.Handle("GET /ui/signup/confirm", h.page("signup/confirm"))
	mux.Handle("GET /ui/forgot-password", h.page("forgot-password"))
	mux.Handle("GET /ui/reset-password", h.page("reset-password"))
	mux.Handle("GET /ui/magic-link", h.page("magic-link"))
	mux.Handle("GET /ui/invitations/accept", h.page("invitations/accept"))
	mux.Handle("GET /ui/signin/confirm", h.page("signin/confirm"))
	mux.Handle("GET /ui/account", h.page("account"))
	mux.Handle("GET /ui/static/{file}", h.serveStatic())
	mux.Handle("POST /ui/qr", h.opts.Authenticate(web.Handler(h.opts.Logger, h.qr)))
}

// serveStatic serves the script and the style sheet.
func (h *Handler) serveStatic() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		h.static.ServeHTTP(w, r)
	})
}

// pageData is what a page's template sees.
type pageData struct {
	Nonce      string
	Product    string
	Logo       string
	Support    string
	Primary    template.CSS
	Background template.CSS
	Root       string // relative URL of /ui/ from the page
	API        string // relative URL of the function's root from the page
	OAuth      string
	Return     string // checked return URL, or ""
	Providers  []string
	SSO        bool
	Strings    template.JS
	Page       string
	// RequireMFA: the account page was opened with ?required=mfa, as the
	// SaaS does when an organization's route answered 403 mfa_required:
	// it says why and offers to sign in again once a factor is set up.
	RequireMFA bool
}

func (h *Handler) page(path string) http.Handler {
	t := h.pages[path]
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		nonce, err := h.nonce()
		if err != nil {
			web.WriteError(w, r, h.opts.Logger, web.Unavailable(err))
			return
		}
		root := "./" + strings.Repeat("../", strings.Count(path, "/"))
		d := pageData{Nonce: nonce, Product: h.cfg.ProductName, Logo: h.cfg.LogoURL, Support: h.cfg.SupportURL,
			Primary: css(h.cfg.PrimaryColor, "#1a56db"), Background: css(h.cfg.BackgroundColor, "#f4f5f7"),
			Root: root, API: root + "../", OAuth: h.cfg.OAuthURL, Return: h.returnTo(r), Providers: h.cfg.Providers,
			SSO: h.cfg.SSO, Strings: template.JS(h.script), Page: path,
			RequireMFA: path == "account" && r.URL.Query().Get("required") == "mfa"}
		if d.Product == "" {
			d.Product = h.strings.T("product.default")
		}
		var buf bytes.Buffer
		if err := t.Execute(&buf, d); err != nil {
			web.WriteError(w, r, h.opts.Logger, fmt.Errorf("render %s: %w", path, err))
			return
		}
		hd := w.Header()
		hd.Set("Content-Security-Policy", h.csp(nonce))
		hd.Set("Content-Type", "text/html; charset=utf-8")
		hd.Set("Cache-Control", "no-store")
		_, _ = w.Write(buf.Bytes())
	})
}

// csp is the pages' policy: nothing but the nonce'd script, the style
// sheet and the theme block, images from this origin (blob: for the TOTP
// QR code), fetch and forms to this origin and the OAuthCallback
// function's, no framing.
func (h *Handler) csp(nonce string) string {
	n := "'nonce-" + nonce + "'"
	return "default-src 'none'; script-src " + n + "; style-src 'self' " + n + "; img-src " + h.imgSrc +
		"; connect-src " + h.selfSrc + "; form-action " + h.selfSrc + "; base-uri 'none'; frame-ancestors 'none'"
}

func (h *Handler) nonce() (string, error) {
	var b [16]byte
	if _, err := io.ReadFull(h.opts.Rand, b[:]); err != nil {
		return "", fmt.Errorf("read nonce: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// returnTo returns the request's return_to if the return-URL policy
// accepts it, else "" (the script then goes to the account page).
func (h *Handler) returnTo(r *http.Request) string {
	raw := r.URL.Query().Get("return_to")
	if raw == "" || h.opts.Returns == nil {
		return ""
	}
	u, err := h.opts.Returns.Check(raw)
	if err != nil {
		return ""
	}
	return u
}

// css returns a validated color (see [Config.check]) for the style block.
func css(v, def string) template.CSS {
	if v == "" {
		v = def
	}
	return template.CSS(v) // #nosec G203 -- checked against colorRE at start
}
