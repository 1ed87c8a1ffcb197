// Package oauthtest is a real OAuth 2.0 authorization server for tests, run
// in-process on httptest: the authorization code grant with PKCE (S256
// required), refresh tokens with optional rotation and reuse detection,
// RFC 7009 revocation, RFC 9207 "iss" in authorization responses, Shopify's
// callback hmac, and enough OpenID Connect (discovery, JWKS, RS256 ID
// tokens with nonce) for sign-in flows. It approves every authorization
// request of a registered client as the configured user, and counts what
// it was asked, so tests can assert "exactly one refresh".
package oauthtest

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Options configure a [Server].
type Options struct {
	// RotateRefreshTokens issues a new refresh token on every refresh and
	// invalidates the old one (reuse is invalid_grant).
	RotateRefreshTokens bool
	// AccessTTL is the access-token lifetime (default one hour).
	AccessTTL time.Duration
	// Issuer adds RFC 9207 "iss" (the server URL) to authorization responses.
	Issuer bool
	// Shopify adds shop, timestamp and an hmac under the client secret to
	// authorization responses, as Shopify does.
	Shopify bool
	// LongLivedTTL is the lifetime of tokens from Meta's fb_exchange_token
	// grant (default 60 days).
	LongLivedTTL time.Duration
	// RefreshDelay is slept inside each refresh, to widen race windows.
	RefreshDelay time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// User is who the server says approved the request (for ID tokens and the
// user endpoints).
type User struct {
	Subject       string
	Email         string
	EmailVerified bool
	GitHubID      int64
}

type client struct {
	secret    string
	redirects map[string]bool
}

// grant is one authorization: a code and the tokens issued from it.
type grant struct {
	client, redirect, challenge, scope, nonce, shop string
	issued                                          time.Time
	codeUsed                                        bool
	revoked                                         bool
}

type token struct {
	g       *grant
	expires time.Time // access tokens only
	used    bool      // rotated refresh tokens
}

// Server is the authorization server.
type Server struct {
	*httptest.Server
	opts Options
	key  *rsa.PrivateKey

	mu       sync.Mutex
	clients  map[string]client
	codes    map[string]*grant
	access   map[string]*token
	refresh  map[string]*token
	user     User
	failNext string // error code for the next refresh, "" for none
	// forgeIDToken, if set, builds the ID tokens (see ForgeIDTokens).
	forgeIDToken func(claims map[string]any, sign func(map[string]any) (string, error)) (string, error)
	down         bool

	refreshCalls atomic.Int64
	exchanges    atomic.Int64
	longLived    atomic.Int64
	revocations  atomic.Int64
	discoveries  atomic.Int64
	keyFetches   atomic.Int64
}

// New starts a server that stops when t ends.
func New(t testing.TB, opts Options) *Server {
	t.Helper()
	if opts.AccessTTL == 0 {
		opts.AccessTTL = time.Hour
	}
	if opts.LongLivedTTL == 0 {
		opts.LongLivedTTL = 60 * 24 * time.Hour
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{opts: opts, key: key, clients: map[string]client{}, codes: map[string]*grant{},
		access: map[string]*token{}, refresh: map[string]*token{},
		user: User{Subject: "subject-1", Email: "user@example.com", EmailVerified: true, GitHubID: 4242}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /authorize", s.authorize)
	mux.HandleFunc("POST /token", s.token)
	mux.HandleFunc("GET /token", s.longLivedGrant)
	mux.HandleFunc("POST /revoke", s.revoke)
	mux.HandleFunc("DELETE /revoke", s.revokeBearer)
	mux.HandleFunc("GET /.well-known/openid-configuration", s.discovery)
	mux.HandleFunc("GET /jwks", s.jwks)
	mux.HandleFunc("GET /userinfo", s.userinfo)
	mux.HandleFunc("GET /user", s.githubUser)
	mux.HandleFunc("GET /user/emails", s.githubEmails)
	s.Server = httptest.NewServer(s.unlessDown(mux))
	t.Cleanup(s.Close)
	return s
}

// AddClient registers a client with its secret and allowed redirect URIs.
func (s *Server) AddClient(id, secret string, redirects ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := client{secret: secret, redirects: map[string]bool{}}
	for _, r := range redirects {
		c.redirects[r] = true
	}
	s.clients[id] = c
}

// SetUser sets who approves the following authorization requests.
func (s *Server) SetUser(u User) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.user = u
}

// FailNextRefresh makes the next refresh fail with the OAuth error code
// (e.g. "invalid_grant"); "server_error" answers 503.
func (s *Server) FailNextRefresh(code string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failNext = code
}

// SetDown makes every endpoint answer 503 until called with false.
func (s *Server) SetDown(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = down
}

// RefreshCalls, Exchanges and Revocations count the requests of each kind
// that reached the endpoints (valid or not).
func (s *Server) RefreshCalls() int64 { return s.refreshCalls.Load() }
func (s *Server) Exchanges() int64    { return s.exchanges.Load() }
func (s *Server) Revocations() int64  { return s.revocations.Load() }

// Discoveries and KeyFetches count requests for the discovery document and
// the JWKS.
func (s *Server) Discoveries() int64 { return s.discoveries.Load() }
func (s *Server) KeyFetches() int64  { return s.keyFetches.Load() }

// LongLivedExchanges counts requests to the fb_exchange_token grant.
func (s *Server) LongLivedExchanges() int64 { return s.longLived.Load() }

// AccessTokenValid reports whether tok is a live access token.
func (s *Server) AccessTokenValid(tok string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.access[tok]
	return ok && !t.g.revoked && s.opts.Now().Before(t.expires)
}

// Endpoints of the server.
func (s *Server) AuthURL() string   { return s.URL + "/authorize" }
func (s *Server) TokenURL() string  { return s.URL + "/token" }
func (s *Server) RevokeURL() string { return s.URL + "/revoke" }
func (s *Server) Issuer() string    { return s.URL }

func (s *Server) unlessDown(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		down := s.down
		s.mu.Unlock()
		if down {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// authorize approves a valid request and redirects back with a code. An
// unknown client or redirect URI is answered here (never redirected);
// other errors go back to the redirect URI (RFC 6749 section 4.1.2.1).
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.clients[q.Get("client_id")]
	redirect := q.Get("redirect_uri")
	if !ok || !c.redirects[redirect] {
		http.Error(w, "unknown client or redirect_uri", http.StatusBadRequest)
		return
	}
	back := url.Values{"state": {q.Get("state")}}
	switch {
	case q.Get("response_type") != "code":
		back.Set("error", "unsupported_response_type")
	case q.Get("code_challenge") == "" || q.Get("code_challenge_method") != "S256":
		back.Set("error", "invalid_request")
	default:
		code := randomToken()
		s.codes[code] = &grant{client: q.Get("client_id"), redirect: redirect, challenge: q.Get("code_challenge"),
			scope: q.Get("scope"), nonce: q.Get("nonce"), shop: shopOf(r), issued: s.opts.Now()}
		back.Set("code", code)
	}
	if s.opts.Issuer {
		back.Set("iss", s.URL)
	}
	if s.opts.Shopify {
		back.Set("shop", shopOf(r))
		back.Set("timestamp", "1700000000")
		back.Set("hmac", shopifyHMAC(c.secret, back))
	}
	http.Redirect(w, r, redirect+"?"+back.Encode(), http.StatusFound)
}

// shopOf returns the "shop" query parameter: a per-shop authorization URL
// override such as AuthURL()+"?shop={shop}" names the shop there.
func shopOf(r *http.Request) string { return r.URL.Query().Get("shop") }

func randomToken() string {
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}
