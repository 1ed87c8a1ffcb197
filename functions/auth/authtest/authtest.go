// Package authtest runs the real Auth function for tests of code that
// talks to Gatehouse over HTTP (the verify package, examples, stock OIDC
// libraries): an httptest server on a real store, laid out like the
// public origin, /auth/ plus the /.well-known metadata at the root, with
// GATEHOUSE_PUBLIC_URL (the issuer) set to the server's URL.
package authtest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/functions/auth"
	"github.com/gatehouse-dev/gatehouse/shared/bootstrap/bootstraptest"
	"github.com/gatehouse-dev/gatehouse/shared/notify"
	"github.com/gatehouse-dev/gatehouse/shared/session"
)

// Server is a running Auth function.
type Server struct {
	*httptest.Server
	Env *bootstraptest.Env
}

// Issuer returns the issuer of the server's tokens (its URL).
func (s *Server) Issuer() string { return s.URL }

// Start runs the Auth function with cfg on a fresh store of backend b
// until t ends.
func Start(t testing.TB, b bootstraptest.Backend, cfg auth.Config) *Server {
	t.Helper()
	env := bootstraptest.New(t, b.Open(t))
	var h atomic.Pointer[http.Handler]
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { (*h.Load()).ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	env.Deps.Config.PublicURL, _ = url.Parse(srv.URL)
	fn, err := auth.New(env.Deps, cfg)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/auth/", http.StripPrefix("/auth", fn))
	for _, p := range auth.WellKnownPaths {
		mux.Handle("GET "+p, fn)
	}
	var root http.Handler = mux
	h.Store(&root)
	return &Server{Server: srv, Env: env}
}

// Do sends a JSON request (body nil for none) to path under /auth with the
// access token, if any, and returns the status and body.
func (s *Server) Do(t testing.TB, method, path string, body any, access string) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, s.URL+"/auth"+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if access != "" {
		req.Header.Set("Authorization", "Bearer "+access)
	}
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, out
}

// MustDo is [Server.Do] that fails t unless the status is want, decoding
// the body into v if not nil.
func (s *Server) MustDo(t testing.TB, method, path string, body any, access string, want int, v any) {
	t.Helper()
	status, out := s.Do(t, method, path, body, access)
	if status != want {
		t.Fatalf("%s %s: %d %s, want %d", method, path, status, out, want)
	}
	if v != nil {
		if err := json.Unmarshal(out, v); err != nil {
			t.Fatalf("%s %s: decode %s: %v", method, path, out, err)
		}
	}
}

// SignUp registers and confirms email through the API and the mailbox and
// returns the first tokens (API mode).
func (s *Server) SignUp(t testing.TB, email, password string) session.TokenResponse {
	t.Helper()
	s.MustDo(t, "POST", "/register", map[string]string{"email": email}, "", http.StatusAccepted, nil)
	tok := s.mailedToken(t, email, notify.KindEmailVerification)
	var tk session.TokenResponse
	s.MustDo(t, "POST", "/register/confirm", map[string]string{"token": tok, "password": password, "name": "Test"}, "",
		http.StatusOK, &tk)
	return tk
}

// Refresh exchanges refresh for new tokens, scoped to org if not "".
func (s *Server) Refresh(t testing.TB, refresh, org string) session.TokenResponse {
	t.Helper()
	body := map[string]string{"refresh_token": refresh}
	if org != "" {
		body["organization"] = org
	}
	var tk session.TokenResponse
	s.MustDo(t, "POST", "/token", body, "", http.StatusOK, &tk)
	return tk
}

// CreateOrg creates an organization owned by the holder of access and
// returns its id.
func (s *Server) CreateOrg(t testing.TB, access, name string) string {
	t.Helper()
	var o struct {
		ID string `json:"id"`
	}
	s.MustDo(t, "POST", "/orgs", map[string]string{"name": name}, access, http.StatusCreated, &o)
	return o.ID
}

// AddMember invites email to org with role (the owner's access token) and
// accepts with the invitee's.
func (s *Server) AddMember(t testing.TB, org, ownerAccess, email, role, inviteeAccess string) {
	t.Helper()
	s.MustDo(t, "POST", "/orgs/"+org+"/invitations", map[string]string{"email": email, "role": role}, ownerAccess,
		http.StatusCreated, nil)
	tok := s.mailedToken(t, email, notify.KindInvitation)
	s.MustDo(t, "POST", "/invitations/accept", map[string]string{"token": tok}, inviteeAccess, http.StatusOK, nil)
}

// mailedToken waits (the function answers before it mails, so that timing
// reveals nothing) for the newest message of kind to email and returns the
// token in its link's fragment.
func (s *Server) mailedToken(t testing.TB, email, kind string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		msgs, err := s.Env.Mailbox.List()
		if err != nil {
			t.Fatal(err)
		}
		for i := len(msgs) - 1; i >= 0; i-- {
			m := msgs[i]
			if m.To == email && m.Kind == kind && len(m.Links) == 1 {
				if _, tok, ok := strings.Cut(m.Links[0], "#token="); ok {
					return tok
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s message to %s", kind, email)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
