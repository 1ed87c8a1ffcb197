package auth

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/bootstrap/bootstraptest"
	"github.com/gatehouse-dev/gatehouse/shared/notify"
	"github.com/gatehouse-dev/gatehouse/shared/ratelimit"
	"github.com/gatehouse-dev/gatehouse/shared/session"
	"github.com/gatehouse-dev/gatehouse/shared/store"
	"github.com/gatehouse-dev/gatehouse/shared/web"
)

// Known and unknown addresses get the same status and body from every
// enumeration-sensitive route (timing: see TestEnumerationTiming).
//
// Controls: AUTH-4
func TestEnumerationSameResponse(t *testing.T) {
	backends(t, func(t *testing.T, b bootstraptest.Backend) {
		te := newTestEnv(t, b)
		te.signUp(t, "quinn@example.com", testPassword)
		te.Env.Logs.Plant(otherPassword)
		for _, tc := range []struct {
			path string
			body func(email string) any
		}{
			{"/login", func(e string) any { return map[string]string{"email": e, "password": otherPassword} }},
			{"/register", func(e string) any { return map[string]string{"email": e} }},
			{"/password/reset", func(e string) any { return map[string]string{"email": e} }},
			{"/magic-link", func(e string) any { return map[string]string{"email": e} }},
		} {
			known := te.do(t, "POST", tc.path, tc.body("quinn@example.com"), fromNetwork("198.51.100.1"))
			unknown := te.do(t, "POST", tc.path, tc.body("nobody@example.com"), fromNetwork("198.51.100.1"))
			if known.Code != unknown.Code || known.Body.String() != unknown.Body.String() {
				t.Errorf("%s: known %d %q, unknown %d %q", tc.path, known.Code, known.Body, unknown.Code, unknown.Body)
			}
			for _, h := range []string{"Content-Type", "Content-Length", "Cache-Control", "Set-Cookie"} {
				if known.Header().Get(h) != unknown.Header().Get(h) {
					t.Errorf("%s: header %s differs: %q vs %q", tc.path, h, known.Header().Get(h), unknown.Header().Get(h))
				}
			}
		}
	})
}

// Progressive lockout: after repeated failures even the right password
// fails with the same 401 from unknown devices, while the holder's own
// device still signs in; the lock ends on its own.
//
// Controls: AUTH-3, AUTH-4
func TestLockout(t *testing.T) {
	backends(t, func(t *testing.T, b bootstraptest.Backend) {
		te := newTestEnv(t, b)
		own := te.signUp(t, "rae@example.com", testPassword)
		attacker := fromNetwork("203.0.113.7")
		te.Env.Logs.Plant(otherPassword)
		var wrongBody string
		for i := range lockoutFailures {
			rec := te.login(t, "rae@example.com", otherPassword, attacker)
			if rec.Code != http.StatusUnauthorized {
				t.Fatalf("failure %d: %d", i, rec.Code)
			}
			wrongBody = rec.Body.String()
		}
		locked := te.login(t, "rae@example.com", testPassword, attacker)
		if locked.Code != http.StatusUnauthorized || locked.Body.String() != wrongBody {
			t.Fatalf("right password while locked: %d %q, want the same 401", locked.Code, locked.Body)
		}
		if rec := te.login(t, "rae@example.com", testPassword, withDevice(own.Device)); rec.Code != http.StatusOK {
			t.Fatalf("holder's own device while locked: %d %s", rec.Code, rec.Body)
		} else {
			tk := decodeTokens(t, rec)
			te.Env.Logs.Plant(tk.AccessToken, tk.RefreshToken)
		}
		te.Env.Clock.Advance(31 * time.Second)
		if rec := te.login(t, "rae@example.com", testPassword, attacker); rec.Code != http.StatusOK {
			t.Fatalf("after the lock expired: %d", rec.Code)
		} else {
			tk := decodeTokens(t, rec)
			te.Env.Logs.Plant(tk.AccessToken, tk.RefreshToken)
		}
	})
}

// lockoutFailures is how many failures lock an account.
const lockoutFailures = 5

// Limits answer 429 with Retry-After, keyed by account (known or not) and
// by network; a limiter that cannot answer makes the route answer 503.
//
// Controls: AUTH-3, APP-5
func TestRateLimits(t *testing.T) {
	te := newTestEnv(t, bootstraptest.Backends[0])
	te.Env.Logs.Plant(otherPassword)
	var rec interface{ Result() *http.Response }
	for i := 0; i <= session.LimitLoginAccount.Burst; i++ {
		// Each attempt from its own network: only the account limit binds.
		rec = te.login(t, "nobody@example.com", otherPassword, fromNetwork("203.0.113."+itoa(i+1)))
	}
	resp := rec.Result()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("account limit: %d Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	for i := 0; i <= limitRegisterNetwork.Burst; i++ {
		rec = te.do(t, "POST", "/register", map[string]string{"email": "u" + itoa(i) + "@example.com"}, fromNetwork("198.51.100.9"))
	}
	if resp := rec.Result(); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("register network limit: %d", resp.StatusCode)
	}
	// The limiter's store fails: every limited route answers 503.
	te.Env.Limiter = ratelimit.New(brokenRates{}, te.Env.Clock.Now)
	_, h, err := build(te.Env.Deps, Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	te.H = h
	for _, tc := range []struct{ path, body string }{
		{"/login", `{"email":"a@example.com","password":"x"}`},
		{"/register", `{"email":"a@example.com"}`},
		{"/magic-link", `{"email":"a@example.com"}`},
		{"/password/reset", `{"email":"a@example.com"}`},
		{"/magic-link/verify", `{"token":"` + strings.Repeat("A", 43) + `"}`},
		{"/password/reset/confirm", `{"token":"` + strings.Repeat("A", 43) + `","password":"` + otherPassword + `"}`},
	} {
		if rec := te.do(t, "POST", tc.path, tc.body); rec.Code != http.StatusServiceUnavailable {
			t.Errorf("%s with the limiter down: %d %s", tc.path, rec.Code, rec.Body)
		}
	}
}

type brokenRates struct{}

func (brokenRates) TakeRate(context.Context, string, int, time.Duration, time.Time) (store.RateDecision, error) {
	return store.RateDecision{}, errors.New("rate store down")
}
func (brokenRates) PurgeRates(context.Context, time.Time) (int64, error) { return 0, nil }

func itoa(i int) string { return strconv.Itoa(i) }

// A sign-in from a device and network not seen for the user alerts them
// and is audited; a known pair does not.
//
// Controls: AUTH-7, AUDIT-1
func TestNewDeviceAlert(t *testing.T) {
	backends(t, func(t *testing.T, b bootstraptest.Backend) {
		te := newTestEnv(t, b)
		own := te.signUp(t, "sam@example.com", testPassword)
		if n := te.countMessages(t, "sam@example.com", notify.KindNewDevice); n != 0 {
			t.Fatalf("first sign-in alerted %d times", n)
		}
		decodeTokens(t, te.login(t, "sam@example.com", testPassword, withDevice(own.Device)))
		if n := te.countMessages(t, "sam@example.com", notify.KindNewDevice); n != 0 {
			t.Fatalf("known device and network alerted %d times", n)
		}
		rec := te.login(t, "sam@example.com", testPassword, fromNetwork("203.0.113.50"))
		tk := decodeTokens(t, rec)
		te.Env.Logs.Plant(tk.AccessToken, tk.RefreshToken)
		if n := te.countMessages(t, "sam@example.com", notify.KindNewDevice); n != 1 {
			t.Fatalf("new device alerted %d times, want 1", n)
		}
		assertAudited(t, te, "auth.new_device")
		decodeTokens(t, te.login(t, "sam@example.com", testPassword, fromNetwork("203.0.113.51"), withDevice(tk.Device)))
		if n := te.countMessages(t, "sam@example.com", notify.KindNewDevice); n != 1 {
			t.Fatalf("same device and /24 alerted again: %d", n)
		}
		te.Env.Clock.Advance(91 * 24 * time.Hour)
		decodeTokens(t, te.login(t, "sam@example.com", testPassword, fromNetwork("203.0.113.51"), withDevice(tk.Device)))
		if n := te.countMessages(t, "sam@example.com", notify.KindNewDevice); n != 2 {
			t.Fatalf("pair unseen for 91 days: %d alerts, want 2", n)
		}
	})
}

// Bad input is answered 4xx with a structured error, never 500.
//
// Controls: APP-1, APP-6
func TestInvalidInput(t *testing.T) {
	te := newTestEnv(t, bootstraptest.Backends[0])
	tk := te.signUp(t, "tia@example.com", testPassword)
	for _, tc := range []struct {
		name, method, path, body string
		auth                     bool
		want                     int
	}{
		{"unknown field", "POST", "/login", `{"email":"a@example.com","password":"x","admin":true}`, false, 400},
		{"wrong type", "POST", "/login", `{"email":1,"password":"x"}`, false, 400},
		{"not json", "POST", "/register", `email=a@example.com`, false, 400},
		{"bad email", "POST", "/register", `{"email":"not an address"}`, false, 400},
		{"huge body", "POST", "/register", `{"email":"` + strings.Repeat("a", 70000) + `"}`, false, 413},
		{"short token", "POST", "/magic-link/verify", `{"token":"abc"}`, false, 400},
		{"non-base64 token", "POST", "/password/reset/confirm", `{"token":"` + strings.Repeat("!", 43) + `","password":"` + otherPassword + `"}`, false, 400},
		{"refresh garbage", "POST", "/token", `{"refresh_token":"%%%"}`, false, 401},
		{"refresh too long", "POST", "/token", `{"refresh_token":"` + strings.Repeat("A", 100) + `"}`, false, 400},
		{"reauth unknown method", "POST", "/reauthenticate", `{"method":"sms"}`, true, 400},
		{"reauth no proof", "POST", "/reauthenticate", `{"method":"totp"}`, true, 400},
		{"name too long", "POST", "/register/confirm", `{"token":"` + strings.Repeat("A", 43) + `","password":"` + otherPassword + `","name":"` + strings.Repeat("n", 101) + `"}`, false, 400},
		{"introspect empty", "POST", "/introspect", `{"token":""}`, false, 400},
		{"trailing data", "POST", "/login", `{"email":"a@example.com","password":"x"} {}`, false, 400},
	} {
		hdr := []http.Header{{"Content-Type": {"application/json"}}}
		if tc.auth {
			hdr = append(hdr, bearer(tk.AccessToken))
		}
		rec := te.do(t, tc.method, tc.path, tc.body, hdr...)
		if rec.Code != tc.want || errorCode(rec) == "" {
			t.Errorf("%s: %d %s, want %d with an error code", tc.name, rec.Code, rec.Body, tc.want)
		}
	}
}

// fakeMFA is a second factor whose code is fixed, built on the session
// hand-off functions exactly as the real extension uses them.
type fakeMFA struct {
	sessions *session.Manager
	logger   *slog.Logger
	users    map[string]bool
}

const fakeCode = "424242"

func (f *fakeMFA) Register(mux *http.ServeMux) {
	// The logger is set after build, so the handler is made per request.
	mux.HandleFunc("POST /login/totp", func(w http.ResponseWriter, r *http.Request) { web.Handler(f.logger, f.loginTOTP).ServeHTTP(w, r) })
}

func (f *fakeMFA) loginTOTP(w http.ResponseWriter, r *http.Request) error {
	{
		var req struct {
			MFAToken string `json:"mfa_token"`
			Code     string `json:"code"`
		}
		if err := web.DecodeJSON(r, &req); err != nil {
			return err
		}
		g, err := f.sessions.ConsumeMFA(r.Context(), req.MFAToken)
		if err != nil {
			return err
		}
		if err := f.sessions.GuardSecondFactor(r.Context(), r, g.UserID); err != nil {
			return err
		}
		if req.Code != fakeCode {
			if err := f.sessions.SecondFactorFailed(r.Context(), r, g.UserID); err != nil {
				return err
			}
			return web.Unauthorized("invalid_credentials", "Wrong code.")
		}
		return f.sessions.Complete(r.Context(), w, r, g.UserID, append(g.Methods, "otp"))
	}
}

func (f *fakeMFA) Methods(_ context.Context, userID string) ([]string, error) {
	if f.users[userID] {
		return []string{"totp"}, nil
	}
	return nil, nil
}

func (f *fakeMFA) ProfileMethods(p store.Profile) []string {
	methods, _ := f.Methods(context.Background(), p.User.ID)
	return methods
}

func (f *fakeMFA) StepUp(_ context.Context, _ *http.Request, _, method string, proof json.RawMessage) error {
	var p struct{ Code string }
	if method != "totp" || json.Unmarshal(proof, &p) != nil || p.Code != fakeCode {
		return web.Unauthorized("invalid_credentials", "Wrong code.")
	}
	return nil
}

func (f *fakeMFA) Export(context.Context, string) (map[string]any, error) {
	return map[string]any{"mfa": "totp"}, nil
}

func (f *fakeMFA) BeforeDelete(context.Context, store.Store, string, string) error {
	return web.Conflict("sole_owner", "Transfer or delete your organization first.")
}

// With no trusted proxy (GATEHOUSE_TRUSTED_PROXY_HOPS=0, the default off
// Cloud Run) a client-written X-Forwarded-For does not move the limits: a
// client varying it still spends its own network's allowance. With one
// trusted proxy the rightmost entry is the client, as the proxy wrote it.
//
// Controls: AUTH-3
func TestForwardedForIgnoredWithoutProxy(t *testing.T) {
	for _, tc := range []struct {
		name    string
		hops    int
		limited bool
	}{
		{"no proxy", 0, true},
		{"one proxy", 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			te := newTestEnv(t, bootstraptest.Backends[0], func(*Config, *Extension) {})
			te.Env.Config.TrustedProxyHops = tc.hops
			_, h, err := build(te.Env.Deps, Config{}, nil)
			if err != nil {
				t.Fatal(err)
			}
			te.H = h
			var last int
			for i := 0; i <= limitMagicNetwork.Burst; i++ {
				rec := te.do(t, "POST", "/magic-link", map[string]string{"email": "x" + itoa(i) + "@example.com"},
					fromNetwork("198.51."+itoa(i)+".1"))
				last = rec.Code
			}
			if limited := last == http.StatusTooManyRequests; limited != tc.limited {
				t.Fatalf("request %d with its own X-Forwarded-For: %d, limited %v, want %v",
					limitMagicNetwork.Burst+1, last, limited, tc.limited)
			}
		})
	}
}
