package auth

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/bootstrap/bootstraptest"
	"github.com/gatehouse-dev/gatehouse/shared/notify"
	"github.com/gatehouse-dev/gatehouse/shared/password"
	"github.com/gatehouse-dev/gatehouse/shared/store"
)

// Sign-up: 202 for everyone; a new address gets a link that creates the
// account and a session once; the password is stored only as Argon2id.
//
// Controls: AUTH-1, AUTH-2, AUTH-4, AUTH-11, APP-1
func TestRegisterFlow(t *testing.T) {
	backends(t, func(t *testing.T, b bootstraptest.Backend) {
		te := newTestEnv(t, b)
		const email = "Alice@Example.com"
		te.Env.Logs.Plant(testPassword)
		rec := te.do(t, "POST", "/register", map[string]string{"email": email})
		if rec.Code != http.StatusAccepted || rec.Body.String() != string(acceptedBody) {
			t.Fatalf("register: %d %q", rec.Code, rec.Body)
		}
		tok := linkToken(t, te.lastMessage(t, "alice@example.com", notify.KindEmailVerification))
		te.Env.Logs.Plant(tok)
		for _, tc := range []struct {
			name     string
			password string
			field    string
		}{
			{"too short", "short", "password"},
			{"common", "password123", "password"},
			{"built from the address", "alice.example.com", "password"},
		} {
			rec := te.do(t, "POST", "/register/confirm", map[string]string{"token": tok, "password": tc.password})
			if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), `"`+tc.field+`"`) {
				t.Errorf("%s: %d %s", tc.name, rec.Code, rec.Body)
			}
		}
		tk := decodeTokens(t, te.do(t, "POST", "/register/confirm", map[string]string{"token": tok, "password": testPassword, "name": "Alice"}))
		te.Env.Logs.Plant(tk.AccessToken, tk.RefreshToken)
		if tk.AccessToken == "" || tk.RefreshToken == "" || tk.TokenType != "Bearer" || tk.ExpiresIn != 600 {
			t.Fatalf("token response %+v", tk)
		}
		u, err := te.Env.Store.UserByEmail(t.Context(), "alice@example.com")
		if err != nil || !strings.HasPrefix(u.PasswordHash, "$argon2id$v=19$m=19456,t=2,p=1$") || u.Name != "Alice" {
			t.Fatalf("stored user %+v, %v", u, err)
		}
		if rec := te.do(t, "POST", "/register/confirm", map[string]string{"token": tok, "password": testPassword}); rec.Code != http.StatusBadRequest || errorCode(rec) != "invalid_token" {
			t.Fatalf("second confirm: %d %s", rec.Code, rec.Body)
		}
		// An existing address: same answer, and a notice instead of a link.
		rec = te.do(t, "POST", "/register", map[string]string{"email": "alice@example.com"})
		if rec.Code != http.StatusAccepted || rec.Body.String() != string(acceptedBody) {
			t.Fatalf("register existing: %d %q", rec.Code, rec.Body)
		}
		if n := te.countMessages(t, "alice@example.com", notify.KindSignupAttempt); n != 1 {
			t.Fatalf("%d sign-up attempt notices, want 1", n)
		}
		rec = te.do(t, "GET", "/me", nil, bearer(tk.AccessToken))
		if rec.Code != http.StatusOK || strings.Contains(rec.Body.String(), "argon2") || !strings.Contains(rec.Body.String(), `"alice@example.com"`) {
			t.Fatalf("GET /me: %d %s", rec.Code, rec.Body)
		}
	})
}

// Controls: AUTH-1, AUTH-2, AUTH-4, AUTH-6
func TestLoginFlow(t *testing.T) {
	backends(t, func(t *testing.T, b bootstraptest.Backend) {
		te := newTestEnv(t, b)
		te.signUp(t, "bob@example.com", testPassword)
		tk := decodeTokens(t, te.login(t, "BOB@example.com ", testPassword))
		te.Env.Logs.Plant(tk.AccessToken, tk.RefreshToken)
		if rec := te.do(t, "GET", "/me", nil, bearer(tk.AccessToken)); rec.Code != http.StatusOK {
			t.Fatalf("GET /me: %d %s", rec.Code, rec.Body)
		}
		wrong := te.login(t, "bob@example.com", otherPassword)
		unknown := te.login(t, "nobody@example.com", otherPassword)
		te.Env.Logs.Plant(otherPassword)
		if wrong.Code != http.StatusUnauthorized || wrong.Body.String() != unknown.Body.String() || unknown.Code != wrong.Code {
			t.Fatalf("wrong password %d %q vs unknown address %d %q", wrong.Code, wrong.Body, unknown.Code, unknown.Body)
		}
		evs, _ := te.Env.Store.AuditEvents(t.Context(), 0, 100)
		var fails int
		for _, e := range evs {
			if e.Action == "auth.login" && e.Outcome == store.OutcomeFailure {
				fails++
				if strings.Contains(e.Actor+e.Target+e.Metadata, "@") {
					t.Errorf("audit event names an address: %+v", e)
				}
			}
		}
		if fails != 2 {
			t.Fatalf("%d failed-login audit events, want 2", fails)
		}
	})
}

// A hash made with older parameters is replaced on the next login.
//
// Controls: AUTH-1
func TestLoginUpgradesHash(t *testing.T) {
	te := newTestEnv(t, bootstraptest.Backends[0])
	te.signUp(t, "carol@example.com", testPassword)
	// The same deployment restarted with stronger parameters.
	_, h, err := build(te.Env.Deps, Config{Argon2: password.Params{Memory: 24576, Time: 2, Threads: 1}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	te.H = h
	decodeTokens(t, te.login(t, "carol@example.com", testPassword))
	u, _ := te.Env.Store.UserByEmail(t.Context(), "carol@example.com")
	if !strings.Contains(u.PasswordHash, "m=24576,") {
		t.Fatalf("hash not upgraded: %s", u.PasswordHash)
	}
	decodeTokens(t, te.login(t, "carol@example.com", testPassword))
}

// Refresh rotates; the rotated token is honoured once more within the
// grace period with the same successor; any further use revokes the
// session, is audited and alerts the user.
//
// Controls: AUTH-6, AUDIT-1
func TestRefreshRotationAndReuse(t *testing.T) {
	backends(t, func(t *testing.T, b bootstraptest.Backend) {
		te := newTestEnv(t, b)
		first := te.signUp(t, "dave@example.com", testPassword)
		refresh := func(rt string) *tokensOrError {
			rec := te.do(t, "POST", "/token", map[string]string{"refresh_token": rt})
			return decodeOrError(t, rec)
		}
		second := refresh(first.RefreshToken)
		if second.err != "" || second.tk.RefreshToken == first.RefreshToken || second.tk.SessionID != first.SessionID {
			t.Fatalf("first refresh: %+v", second)
		}
		te.Env.Logs.Plant(second.tk.AccessToken, second.tk.RefreshToken)
		te.Env.Clock.Advance(5 * time.Second)
		again := refresh(first.RefreshToken)
		if again.err != "" || again.tk.RefreshToken != second.tk.RefreshToken {
			t.Fatalf("presentation within grace: %+v, want the same successor", again)
		}
		third := refresh(second.tk.RefreshToken)
		if third.err != "" {
			t.Fatalf("refresh of the successor: %+v", third)
		}
		te.Env.Logs.Plant(third.tk.RefreshToken)
		if got := refresh(first.RefreshToken); got.err != "invalid_grant" {
			t.Fatalf("second reuse: %+v, want invalid_grant", got)
		}
		if got := refresh(third.tk.RefreshToken); got.err != "invalid_grant" {
			t.Fatalf("current token after reuse: %+v, want invalid_grant (session revoked)", got)
		}
		if rec := te.do(t, "GET", "/me", nil, bearer(third.tk.AccessToken)); rec.Code != http.StatusUnauthorized {
			t.Fatalf("access token of the revoked session: %d", rec.Code)
		}
		if n := te.countMessages(t, "dave@example.com", notify.KindAlert); n != 1 {
			t.Fatalf("%d reuse alerts, want 1", n)
		}
		assertAudited(t, te, "auth.refresh_reuse")
	})
}

// Outside the grace period, the first reuse already revokes the session.
//
// Controls: AUTH-6
func TestRefreshReuseAfterGrace(t *testing.T) {
	te := newTestEnv(t, bootstraptest.Backends[0])
	first := te.signUp(t, "erin@example.com", testPassword)
	second := decodeTokens(t, te.do(t, "POST", "/token", map[string]string{"refresh_token": first.RefreshToken}))
	te.Env.Logs.Plant(second.AccessToken, second.RefreshToken)
	te.Env.Clock.Advance(11 * time.Second)
	if rec := te.do(t, "POST", "/token", map[string]string{"refresh_token": first.RefreshToken}); rec.Code != http.StatusUnauthorized {
		t.Fatalf("reuse after grace: %d", rec.Code)
	}
	if rec := te.do(t, "POST", "/token", map[string]string{"refresh_token": second.RefreshToken}); rec.Code != http.StatusUnauthorized {
		t.Fatalf("successor after reuse: %d, want 401 (session revoked)", rec.Code)
	}
}

// Idle and absolute timeouts end sessions.
//
// Controls: AUTH-6
func TestSessionTimeouts(t *testing.T) {
	te := newTestEnv(t, bootstraptest.Backends[0], func(c *Config, _ *Extension) {
		c.Session.IdleTimeout, c.Session.AbsoluteTimeout = time.Hour, 3*time.Hour
	})
	tk := te.signUp(t, "fay@example.com", testPassword)
	rt := tk.RefreshToken
	for range 5 { // refreshed every 50 minutes: never idle, but absolute ends it
		te.Env.Clock.Advance(50 * time.Minute)
		rec := te.do(t, "POST", "/token", map[string]string{"refresh_token": rt})
		if te.Env.Clock.Now().After(bootstraptest.Start.Add(3 * time.Hour)) {
			if rec.Code != http.StatusUnauthorized {
				t.Fatalf("refresh after the absolute timeout: %d", rec.Code)
			}
			break
		}
		next := decodeTokens(t, rec)
		te.Env.Logs.Plant(next.RefreshToken, next.AccessToken)
		rt = next.RefreshToken
	}
	other := te.login(t, "fay@example.com", testPassword)
	otk := decodeTokens(t, other)
	te.Env.Logs.Plant(otk.RefreshToken, otk.AccessToken)
	te.Env.Clock.Advance(61 * time.Minute)
	if rec := te.do(t, "POST", "/token", map[string]string{"refresh_token": otk.RefreshToken}); rec.Code != http.StatusUnauthorized {
		t.Fatalf("refresh after the idle timeout: %d", rec.Code)
	}
}

type tokensOrError struct {
	tk  tokens
	err string
}

func decodeOrError(t testing.TB, rec interface {
	Result() *http.Response
}) *tokensOrError {
	t.Helper()
	resp := rec.Result()
	defer resp.Body.Close()
	var out tokensOrError
	if resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(&out.tk.TokenResponse); err != nil {
			t.Fatal(err)
		}
		return &out
	}
	var body struct {
		Error struct{ Code string } `json:"error"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&body)
	out.err = body.Error.Code
	if out.err == "" {
		out.err = resp.Status
	}
	return &out
}

// assertAudited fails t unless the audit log holds an event with action.
func assertAudited(t testing.TB, te *testEnv, action string) store.AuditEvent {
	t.Helper()
	evs, err := te.Env.Store.AuditEvents(t.Context(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		if e.Action == action {
			return e
		}
	}
	t.Fatalf("no %s audit event", action)
	return store.AuditEvent{}
}

// Logout ends this session at once; logout/all every session; a user can
// list sessions and end one of their own but no one else's.
//
// Controls: AUTH-6, AUTHZ-2
func TestLogoutAndSessions(t *testing.T) {
	backends(t, func(t *testing.T, b bootstraptest.Backend) {
		te := newTestEnv(t, b)
		a1 := te.signUp(t, "gus@example.com", testPassword)
		a2 := decodeTokens(t, te.login(t, "gus@example.com", testPassword))
		a3 := decodeTokens(t, te.login(t, "gus@example.com", testPassword))
		other := te.signUp(t, "hal@example.com", otherPassword)
		te.Env.Logs.Plant(a2.AccessToken, a2.RefreshToken, a3.AccessToken, a3.RefreshToken)
		rec := te.do(t, "GET", "/sessions", nil, bearer(a1.AccessToken))
		var list struct {
			Sessions []sessionJSON `json:"sessions"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &list); err != nil || len(list.Sessions) != 3 {
			t.Fatalf("GET /sessions: %d %s", rec.Code, rec.Body)
		}
		for _, tc := range []struct {
			name   string
			access string
			id     string
			want   int
		}{
			{"someone else's session", other.AccessToken, a2.SessionID, http.StatusNotFound},
			{"unknown session", a1.AccessToken, "nope", http.StatusNotFound},
			{"own other session", a1.AccessToken, a2.SessionID, http.StatusNoContent},
			{"no token", "", a3.SessionID, http.StatusUnauthorized},
		} {
			var hdr http.Header
			if tc.access != "" {
				hdr = bearer(tc.access)
			}
			if rec := te.do(t, "DELETE", "/sessions/"+tc.id, nil, hdr); rec.Code != tc.want {
				t.Errorf("%s: %d, want %d", tc.name, rec.Code, tc.want)
			}
		}
		if rec := te.do(t, "GET", "/me", nil, bearer(a2.AccessToken)); rec.Code != http.StatusUnauthorized {
			t.Fatalf("access token of a deleted session: %d", rec.Code)
		}
		if rec := te.do(t, "POST", "/logout", nil, bearer(a1.AccessToken)); rec.Code != http.StatusNoContent {
			t.Fatalf("logout: %d", rec.Code)
		}
		if rec := te.do(t, "GET", "/me", nil, bearer(a1.AccessToken)); rec.Code != http.StatusUnauthorized {
			t.Fatalf("access token after logout: %d (revocation must be immediate)", rec.Code)
		}
		if rec := te.do(t, "POST", "/logout/all", nil, bearer(a3.AccessToken)); rec.Code != http.StatusNoContent {
			t.Fatalf("logout/all: %d", rec.Code)
		}
		for _, tk := range []tokens{a3} {
			if rec := te.do(t, "POST", "/token", map[string]string{"refresh_token": tk.RefreshToken}); rec.Code != http.StatusUnauthorized {
				t.Fatalf("refresh after logout/all: %d", rec.Code)
			}
		}
		if rec := te.do(t, "GET", "/me", nil, bearer(other.AccessToken)); rec.Code != http.StatusOK {
			t.Fatalf("another user's session after logout/all: %d", rec.Code)
		}
	})
}

// Controls: AUTHZ-2, APP-5
func TestAuthenticateRejects(t *testing.T) {
	te := newTestEnv(t, bootstraptest.Backends[0])
	tk := te.signUp(t, "ida@example.com", testPassword)
	for _, tc := range []struct {
		name string
		hdr  http.Header
	}{
		{"nothing", nil},
		{"basic auth", http.Header{"Authorization": {"Basic aWRhOnB3"}}},
		{"two bearer headers", http.Header{"Authorization": {"Bearer " + tk.AccessToken, "Bearer x"}}},
		{"garbage token", bearer("abc.def.ghi")},
		{"refresh token as access token", bearer(tk.RefreshToken)},
	} {
		rec := te.do(t, "GET", "/me", nil, tc.hdr)
		if rec.Code != http.StatusUnauthorized {
			t.Errorf("%s: %d", tc.name, rec.Code)
		}
	}
	te.Env.Clock.Advance(10*time.Minute + time.Second)
	if rec := te.do(t, "GET", "/me", nil, bearer(tk.AccessToken)); rec.Code != http.StatusUnauthorized {
		t.Fatalf("expired access token: %d", rec.Code)
	}
}

// Controls: AUTH-6
func TestIntrospectAndJWKS(t *testing.T) {
	backends(t, func(t *testing.T, b bootstraptest.Backend) {
		te := newTestEnv(t, b)
		tk := te.signUp(t, "jay@example.com", testPassword)
		var got introspection
		rec := te.do(t, "POST", "/introspect", map[string]string{"token": tk.AccessToken})
		if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || !got.Active || got.SessionID != tk.SessionID || got.Subject != tk.UserID {
			t.Fatalf("introspect: %d %s", rec.Code, rec.Body)
		}
		te.do(t, "POST", "/logout", nil, bearer(tk.AccessToken))
		rec = te.do(t, "POST", "/introspect", map[string]string{"token": tk.AccessToken})
		if rec.Code != http.StatusOK || strings.TrimSpace(rec.Body.String()) != `{"active":false}` {
			t.Fatalf("introspect after logout: %d %s", rec.Code, rec.Body)
		}
		rec = te.do(t, "GET", "/.well-known/jwks.json", nil)
		if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"crv":"Ed25519"`) {
			t.Fatalf("jwks: %d %s", rec.Code, rec.Body)
		}
	})
}
