package main

import (
	"context"
	"encoding/json"
	"github.com/gatehouse-dev/gatehouse/functions/auth"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/gatehouse-dev/gatehouse/shared/bootstrap/bootstraptest"
	"github.com/gatehouse-dev/gatehouse/shared/config"
	"github.com/gatehouse-dev/gatehouse/shared/notify"
	"github.com/gatehouse-dev/gatehouse/shared/session"
)

// operation is one route of the OpenAPI document, which docs/apicheck
// holds equal to the routes the functions register.
type operation struct{ method, path string }

// documentedOperations lists every operation of docs/openapi.yaml.
func documentedOperations(t *testing.T) []operation {
	t.Helper()
	raw, err := os.ReadFile("../../docs/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]any `yaml:"paths"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	var ops []operation
	for path, item := range doc.Paths {
		for method := range item {
			switch method {
			case "get", "post", "put", "patch", "delete":
				ops = append(ops, operation{strings.ToUpper(method), path})
			}
		}
	}
	// Reads first, then changes, and last what ends the session or the
	// account, so that as many routes as possible run signed in.
	rank := func(o operation) int {
		switch {
		case o.path == "/auth/logout" || o.path == "/auth/logout/all" || (o.method == "DELETE" && (o.path == "/auth/me" || o.path == "/auth/orgs/{org}")):
			return 2
		case o.method == "GET":
			return 0
		}
		return 1
	}
	slices.SortFunc(ops, func(a, b operation) int {
		if d := rank(a) - rank(b); d != 0 {
			return d
		}
		return strings.Compare(a.method+" "+a.path, b.method+" "+b.path)
	})
	return ops
}

var pathParam = regexp.MustCompile(`\{([a-z]+)\}`)

// signedIn is a user of the local server with an organization.
type signedIn struct {
	access, userID, org string
}

func signUpLocal(t *testing.T, h http.Handler, env *bootstraptest.Env, email string) signedIn {
	t.Helper()
	call := func(method, path, body, access string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if access != "" {
			req.Header.Set("Authorization", "Bearer "+access)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	if rec := call("POST", "/auth/register", `{"email":"`+email+`"}`, ""); rec.Code != http.StatusAccepted {
		t.Fatalf("register: %d %s", rec.Code, rec.Body)
	}
	msgs, err := env.Mailbox.List()
	if err != nil {
		t.Fatal(err)
	}
	var tok string
	for _, m := range msgs {
		if m.To == email && m.Kind == notify.KindEmailVerification {
			_, tok, _ = strings.Cut(m.Links[0], "#token=")
		}
	}
	env.Logs.Plant(tok)
	rec := call("POST", "/auth/register/confirm", `{"token":"`+tok+`","password":"lapwing fjord mulberry"}`, "")
	var tr session.TokenResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &tr); err != nil || rec.Code != http.StatusOK {
		t.Fatalf("confirm: %d %s", rec.Code, rec.Body)
	}
	env.Logs.Plant(tr.AccessToken, tr.RefreshToken)
	rec = call("POST", "/auth/orgs", `{"name":"Acme"}`, tr.AccessToken)
	var org struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &org); err != nil || rec.Code != http.StatusCreated {
		t.Fatalf("create org: %d %s", rec.Code, rec.Body)
	}
	return signedIn{access: tr.AccessToken, userID: tr.UserID, org: org.ID}
}

// Every route of every function, called with credentials (a bearer token,
// or the browser's cookies with Origin and CSRF), answers with
// Cache-Control: no-store, whatever its status: one middleware in every
// function's chain sets it, so no route can forget. Before, GET
// /auth/sessions, /auth/orgs, the members and audit lists and
// /oauth/connections answered 200 without it.
//
// Controls: APP-8, APP-4
func TestEveryAuthenticatedResponseIsNotCacheable(t *testing.T) {
	env := bootstraptest.New(t, bootstraptest.SQLite(t))
	l := config.NewLoader(context.Background(), func(string) (string, bool) { return "", false }, nil)
	h, _, _, err := mountAll(env.Deps, l, auth.LoadConfig(l))
	if err == nil {
		err = l.Err()
	}
	if err != nil {
		t.Fatal(err)
	}
	ops := documentedOperations(t)
	if len(ops) < 50 {
		t.Fatalf("only %d documented operations: the document was not read", len(ops))
	}
	csrf := strings.Repeat("c", 43)
	for _, mode := range []string{"bearer", "browser"} {
		t.Run(mode, func(t *testing.T) {
			u := signUpLocal(t, h, env, mode+"@example.com")
			ok := map[string]bool{}
			for _, op := range ops {
				path := pathParam.ReplaceAllStringFunc(op.path, func(p string) string {
					switch p {
					case "{org}":
						return u.org
					case "{user}":
						return u.userID
					}
					return "x"
				})
				var body *strings.Reader
				if op.method == "GET" {
					body = strings.NewReader("")
				} else {
					body = strings.NewReader("{}")
				}
				req := httptest.NewRequest(op.method, path+"?org="+u.org, body)
				if op.method != "GET" {
					req.Header.Set("Content-Type", "application/json")
				}
				if mode == "bearer" {
					req.Header.Set("Authorization", "Bearer "+u.access)
				} else {
					req.Header.Set("Cookie", session.AccessCookie+"="+u.access+"; "+session.CSRFCookie+"="+csrf)
					req.Header.Set(session.CSRFHeader, csrf)
					req.Header.Set(session.ClientHeader, "browser")
					req.Header.Set("Origin", "https://app.example.com")
				}
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if got := rec.Result().Header.Get("Cache-Control"); got != "no-store" {
					t.Errorf("%s %s: %d with Cache-Control %q, want no-store", op.method, op.path, rec.Code, got)
				}
				ok[op.method+" "+op.path] = rec.Code == http.StatusOK
			}
			// The routes reached their handlers, signed in.
			for _, r := range []string{"GET /auth/sessions", "GET /auth/orgs", "GET /auth/orgs/{org}/members",
				"GET /auth/orgs/{org}/audit", "GET /oauth/connections", "GET /auth/me", "GET /auth/mfa"} {
				if !ok[r] {
					t.Errorf("%s did not answer 200 signed in: the test did not reach it", r)
				}
			}
		})
	}
	// Without credentials the handler decides: the JWKS stays cacheable.
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/auth/.well-known/jwks.json", nil))
	if got := rec.Result().Header.Get("Cache-Control"); !strings.Contains(got, "max-age") {
		t.Fatalf("anonymous JWKS: Cache-Control %q", got)
	}
}
