package auth

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/shared/bootstrap/bootstraptest"
	"github.com/gatehouse-dev/gatehouse/shared/notify"
	"github.com/gatehouse-dev/gatehouse/shared/session"
)

// testEnv is the auth function on one backend, for flow tests.
type testEnv struct {
	Env      *bootstraptest.Env
	H        http.Handler
	Server   *Server
	Sessions *session.Manager
}

// newTestEnv builds the function on a fresh store of backend b. Options
// may change the Config or set the Extension (nil: the build's own).
func newTestEnv(t testing.TB, b bootstraptest.Backend, opts ...func(*Config, *Extension)) *testEnv {
	t.Helper()
	env := bootstraptest.New(t, b.Open(t))
	var cfg Config
	var ext Extension
	for _, o := range opts {
		o(&cfg, &ext)
	}
	s, h, err := build(env.Deps, cfg, ext)
	if err != nil {
		t.Fatal(err)
	}
	return &testEnv{Env: env, H: h, Server: s, Sessions: s.sessions}
}

// testClientAddr is the RemoteAddr of test requests.
const testClientAddr = "192.0.2.10:4711"

// do sends one request; body is JSON-encoded unless it is a string or nil.
// Headers in hdr are added (X-Forwarded-For sets the client address).
func (te *testEnv) do(t testing.TB, method, path string, body any, hdr ...http.Header) *httptest.ResponseRecorder {
	t.Helper()
	var rd *bytes.Reader
	switch b := body.(type) {
	case nil:
		rd = bytes.NewReader(nil)
	case string:
		rd = bytes.NewReader([]byte(b))
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req := httptest.NewRequest(method, path, rd)
	req.RemoteAddr = testClientAddr
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, h := range hdr {
		for k, vs := range h {
			for _, v := range vs {
				req.Header.Add(k, v)
			}
		}
	}
	rec := httptest.NewRecorder()
	te.H.ServeHTTP(rec, req)
	return rec
}

// tokens is a decoded token response.
type tokens struct {
	session.TokenResponse
	Device string // the device cookie set with it
}

// decodeTokens decodes a 200 token response, failing t otherwise.
func decodeTokens(t testing.TB, rec *httptest.ResponseRecorder) tokens {
	t.Helper()
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d, body %s", rec.Code, rec.Body)
	}
	var tk tokens
	if err := json.Unmarshal(rec.Body.Bytes(), &tk.TokenResponse); err != nil {
		t.Fatal(err)
	}
	for _, c := range rec.Result().Cookies() {
		if c.Name == session.DeviceCookie {
			tk.Device = c.Value
		}
	}
	return tk
}

// bearer returns the Authorization header for an access token.
func bearer(access string) http.Header {
	return http.Header{"Authorization": {"Bearer " + access}}
}

// withDevice returns a header carrying the device cookie.
func withDevice(device string) http.Header {
	return http.Header{"Cookie": {session.DeviceCookie + "=" + device}}
}

// fromNetwork returns a header making the request come from ip.
func fromNetwork(ip string) http.Header { return http.Header{"X-Forwarded-For": {ip}} }

// lastMessage returns the newest mailbox message to `to` of kind, failing
// t if there is none.
func (te *testEnv) lastMessage(t testing.TB, to, kind string) notify.Message {
	t.Helper()
	msgs, err := te.Env.Mailbox.List()
	if err != nil {
		t.Fatal(err)
	}
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].To == to && msgs[i].Kind == kind {
			return msgs[i]
		}
	}
	t.Fatalf("no %s message to %s in %d messages", kind, to, len(msgs))
	return notify.Message{}
}

// countMessages counts mailbox messages to `to` of kind.
func (te *testEnv) countMessages(t testing.TB, to, kind string) int {
	t.Helper()
	msgs, err := te.Env.Mailbox.List()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, m := range msgs {
		if m.To == to && m.Kind == kind {
			n++
		}
	}
	return n
}

// linkToken returns the token in the fragment of the message's link.
func linkToken(t testing.TB, m notify.Message) string {
	t.Helper()
	if len(m.Links) != 1 {
		t.Fatalf("%s message has %d links", m.Kind, len(m.Links))
	}
	_, tok, ok := strings.Cut(m.Links[0], "#token=")
	if !ok || len(tok) != tokenLen {
		t.Fatalf("link %q has no token fragment", m.Links[0])
	}
	return tok
}

// signUp registers and confirms an account as an API client and returns
// its first tokens. The password and tokens are planted in the log check.
func (te *testEnv) signUp(t testing.TB, email, password string) tokens {
	t.Helper()
	te.Env.Logs.Plant(password)
	if rec := te.do(t, "POST", "/register", map[string]string{"email": email}); rec.Code != http.StatusAccepted {
		t.Fatalf("register: %d %s", rec.Code, rec.Body)
	}
	tok := linkToken(t, te.lastMessage(t, email, notify.KindEmailVerification))
	te.Env.Logs.Plant(tok)
	tk := decodeTokens(t, te.do(t, "POST", "/register/confirm",
		map[string]string{"token": tok, "password": password, "name": "Test User"}))
	te.Env.Logs.Plant(tk.AccessToken, tk.RefreshToken)
	return tk
}

// login signs in as an API client with extra headers.
func (te *testEnv) login(t testing.TB, email, password string, hdr ...http.Header) *httptest.ResponseRecorder {
	t.Helper()
	return te.do(t, "POST", "/login", map[string]string{"email": email, "password": password}, hdr...)
}

// errorCode returns the error code of a JSON error response.
func errorCode(rec *httptest.ResponseRecorder) string {
	var body struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	_ = json.Unmarshal(rec.Body.Bytes(), &body)
	return body.Error.Code
}

// backends runs f as a subtest on every backend.
func backends(t *testing.T, f func(t *testing.T, b bootstraptest.Backend)) {
	for _, b := range bootstraptest.Backends {
		t.Run(b.Name, func(t *testing.T) { f(t, b) })
	}
}

// Passwords the tests use; they pass the policy.
const (
	testPassword  = "lapwing fjord mulberry"
	otherPassword = "quokka saffron tundra"
)
