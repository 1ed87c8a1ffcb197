package auth

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/audit"
	"github.com/gatehouse-dev/gatehouse/shared/bootstrap/bootstraptest"
	"github.com/gatehouse-dev/gatehouse/shared/envelope"
	"github.com/gatehouse-dev/gatehouse/shared/ratelimit"
	"github.com/gatehouse-dev/gatehouse/shared/store/postgres/pgtest"
)

// twoInstances builds the auth function twice on one PostgreSQL schema,
// each on its own store (pool and session-change listener), sharing the
// key-encryption key and the clock: two instances of one deployment.
func twoInstances(t *testing.T, opts ...func(*Config, *Extension)) (a, b *testEnv, db *pgtest.DB) {
	t.Helper()
	var cfg Config
	var ext Extension
	for _, o := range opts {
		o(&cfg, &ext)
	}
	db = pgtest.New(t)
	envA := bootstraptest.New(t, db.Store)
	sA, hA, err := build(envA.Deps, cfg, ext)
	if err != nil {
		t.Fatal(err)
	}
	a = &testEnv{Env: envA, H: hA, Server: sA, Sessions: sA.sessions}
	storeB := db.Another(t)
	kr, err := envelope.New(storeB, envA.KEK, envelope.Options{Now: envA.Clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	depsB := *envA.Deps
	depsB.Store, depsB.Keyring = storeB, kr
	depsB.Audit, depsB.Limiter = audit.New(storeB, envA.Logger, envA.Clock.Now), ratelimit.New(storeB, envA.Clock.Now)
	envB := *envA
	envB.Deps = &depsB
	sB, hB, err := build(&depsB, cfg, ext)
	if err != nil {
		t.Fatal(err)
	}
	b = &testEnv{Env: &envB, H: hB, Server: sB, Sessions: sB.sessions}
	for _, te := range []*testEnv{a, b} {
		waitFor(t, "session feed live", func() bool { return te.Sessions.CacheStats().Live })
	}
	return a, b, db
}

// waitFor polls cond for up to 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// cached makes b check access (twice) and fails t unless the second check
// was answered from b's session cache.
func cached(t *testing.T, b *testEnv, access string) {
	t.Helper()
	if rec := b.do(t, "GET", "/me", nil, bearer(access)); rec.Code != http.StatusOK {
		t.Fatalf("GET /me on instance B: %d %s", rec.Code, rec.Body)
	}
	hits := b.Sessions.CacheStats().Hits
	if rec := b.do(t, "GET", "/me", nil, bearer(access)); rec.Code != http.StatusOK {
		t.Fatalf("GET /me on instance B: %d %s", rec.Code, rec.Body)
	}
	if b.Sessions.CacheStats().Hits == hits {
		t.Fatal("instance B checked the session in the database, not its cache")
	}
}

// refusedWithin fails t unless b refuses access within limit.
func refusedWithin(t *testing.T, b *testEnv, access string, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		rec := b.do(t, "GET", "/me", nil, bearer(access))
		elapsed := time.Since(start)
		if rec.Code == http.StatusUnauthorized {
			return elapsed
		}
		if elapsed > limit {
			t.Fatalf("instance B still answers %d %v after the revocation", rec.Code, elapsed)
		}
		time.Sleep(time.Millisecond)
	}
}

// A session revoked through one instance is refused by another that had
// it cached, within 100 ms, for every way a session ends through the API:
// sign-out, sign-out everywhere, ending one session from another, refresh
// token reuse, account deletion. (Factor removal, identity unlink and
// administrative revocations go through the same store methods, whose
// announcements the store conformance suite checks.)
//
// Controls: AUTH-6, APP-5
func TestRevocationReachesOtherInstance(t *testing.T) {
	a, b, _ := twoInstances(t)
	for i, tc := range []struct {
		name   string
		revoke func(t *testing.T, email string, tk tokens) string // returns the access token to check
	}{
		{"logout", func(t *testing.T, _ string, tk tokens) string {
			expect(t, a.do(t, "POST", "/logout", nil, bearer(tk.AccessToken)), http.StatusNoContent)
			return tk.AccessToken
		}},
		{"logout everywhere", func(t *testing.T, _ string, tk tokens) string {
			expect(t, a.do(t, "POST", "/logout/all", nil, bearer(tk.AccessToken)), http.StatusNoContent)
			return tk.AccessToken
		}},
		{"end one session from another", func(t *testing.T, email string, tk tokens) string {
			other := decodeTokens(t, a.login(t, email, testPassword, withDevice(tk.Device)))
			expect(t, a.do(t, "DELETE", "/sessions/"+tk.SessionID, nil, bearer(other.AccessToken)), http.StatusNoContent)
			return tk.AccessToken
		}},
		{"refresh token reuse", func(t *testing.T, _ string, tk tokens) string {
			next := decodeTokens(t, a.do(t, "POST", "/token", map[string]string{"refresh_token": tk.RefreshToken}))
			cached(t, b, next.AccessToken)
			a.Env.Clock.Advance(11 * time.Second) // past the grace
			expect(t, a.do(t, "POST", "/token", map[string]string{"refresh_token": tk.RefreshToken}), http.StatusUnauthorized)
			return next.AccessToken
		}},
		{"account deletion", func(t *testing.T, _ string, tk tokens) string {
			expect(t, a.do(t, "DELETE", "/me", nil, bearer(tk.AccessToken)), http.StatusNoContent)
			return tk.AccessToken
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			email := "multi" + strconv.Itoa(i) + "@example.com"
			tk := a.signUp(t, email, testPassword)
			cached(t, b, tk.AccessToken)
			access := tc.revoke(t, email, tk)
			elapsed := refusedWithin(t, b, access, 100*time.Millisecond)
			t.Logf("refused by the other instance %v after the revocation returned", elapsed)
		})
	}
}

// Introspection on one instance follows changes made through another at
// once, while the token's session sits in its session cache: an
// organization-scoped token reports the role of the moment after a role
// change, is inactive after the member's removal, and any token of a
// session signed out elsewhere is inactive within 100 ms.
//
// Controls: AUTHZ-3, AUTH-6
func TestOrgTokenIntrospectionAcrossInstances(t *testing.T) {
	a, b, _ := twoInstances(t, withClients)
	w := a.orgSetup(t)
	op := w.tokens["operatorA"]
	scoped := decodeTokens(t, a.refreshOrg(t, op.RefreshToken, w.A))
	plain := decodeTokens(t, a.do(t, "POST", "/token", map[string]string{"refresh_token": scoped.RefreshToken}))
	a.Env.Logs.Plant(scoped.AccessToken, scoped.RefreshToken, plain.AccessToken, plain.RefreshToken)
	cached(t, b, scoped.AccessToken)
	if got := b.introspect7662(t, scoped.AccessToken); !got.Active || got.Role != "operator" || got.OrgID != w.A {
		t.Fatalf("introspection on B: %+v", got)
	}
	extDecodeBody(t, a.do(t, "PATCH", "/orgs/"+w.A+"/members/"+w.ids["operatorA"], map[string]string{"role": "viewer"},
		bearer(w.tokens["ownerA"].AccessToken)), http.StatusOK, nil)
	if got := b.introspect7662(t, scoped.AccessToken); !got.Active || got.Role != "viewer" || !slices.Equal(got.Permissions, []string{"read"}) {
		t.Fatalf("introspection on B after the role change on A: %+v", got)
	}
	expect(t, a.do(t, "DELETE", "/orgs/"+w.A+"/members/"+w.ids["operatorA"], nil, bearer(w.tokens["ownerA"].AccessToken)), http.StatusNoContent)
	if got := b.introspect7662(t, scoped.AccessToken); got.Active {
		t.Fatalf("removed member's token active on B: %+v", got)
	}
	if got := b.introspect7662(t, plain.AccessToken); !got.Active || got.OrgID != "" {
		t.Fatalf("unscoped token on B: %+v", got)
	}
	expect(t, a.do(t, "POST", "/logout", nil, bearer(plain.AccessToken)), http.StatusNoContent)
	start := time.Now()
	for b.introspect7662(t, plain.AccessToken).Active {
		if time.Since(start) > 100*time.Millisecond {
			t.Fatal("token of a session signed out on A still active on B after 100 ms")
		}
		time.Sleep(time.Millisecond)
	}
}

func expect(t *testing.T, rec interface {
	Result() *http.Response
}, want int) {
	t.Helper()
	if got := rec.Result().StatusCode; got != want {
		t.Fatalf("status %d, want %d", got, want)
	}
}

// The cache is really what answers, and only an announcement updates it:
// a revocation written behind the store's back (no announcement) is not
// seen by an instance that has the session cached, until it is announced.
// (So the test above would fail if revocations were not announced.)
//
// Controls: AUTH-6
func TestUnannouncedRevocationIsInvisibleToCache(t *testing.T) {
	a, b, db := twoInstances(t)
	tk := a.signUp(t, "silent@example.com", testPassword)
	cached(t, b, tk.AccessToken)
	ctx := context.Background()
	if _, err := db.Owner.Exec(ctx, `UPDATE sessions SET revoked_at = now() WHERE id = $1`, tk.SessionID); err != nil {
		t.Fatal(err)
	}
	if rec := b.do(t, "GET", "/me", nil, bearer(tk.AccessToken)); rec.Code != http.StatusOK {
		t.Fatalf("unannounced revocation: %d, want the cached 200", rec.Code)
	}
	if _, err := db.Owner.Exec(ctx, `SELECT pg_notify($1, $2)`, "gatehouse_sessions/"+db.Schema, "s:"+tk.SessionID); err != nil {
		t.Fatal(err)
	}
	refusedWithin(t, b, tk.AccessToken, 100*time.Millisecond)
}

// A lost channel fails safe: when the listener's connection is cut, the
// cache drops what it learned before the gap and is bypassed until the
// listener is back, so a revocation it never heard of (written without an
// announcement, as one sent during the gap would be lost) is refused,
// during the gap and after it; after reconnecting the cache fills again.
//
// Controls: AUTH-6, APP-5
func TestLostChannelFailsSafe(t *testing.T) {
	a, b, db := twoInstances(t)
	tk := a.signUp(t, "gap@example.com", testPassword)
	cached(t, b, tk.AccessToken)
	gaps := b.Sessions.CacheStats().Gaps
	if n := db.CutListeners(t); n < 2 {
		t.Fatalf("cut %d listeners, want both instances'", n)
	}
	waitFor(t, "instance B to notice the gap", func() bool { return b.Sessions.CacheStats().Gaps > gaps })
	if _, err := db.Owner.Exec(context.Background(), `UPDATE sessions SET revoked_at = now() WHERE id = $1`, tk.SessionID); err != nil {
		t.Fatal(err)
	}
	if rec := b.do(t, "GET", "/me", nil, bearer(tk.AccessToken)); rec.Code != http.StatusUnauthorized {
		t.Fatalf("revoked session during the gap: %d, want 401", rec.Code)
	}
	waitFor(t, "instance B's listener to reconnect", func() bool { return b.Sessions.CacheStats().Live })
	if rec := b.do(t, "GET", "/me", nil, bearer(tk.AccessToken)); rec.Code != http.StatusUnauthorized {
		t.Fatalf("revoked session after the gap: %d, want 401", rec.Code)
	}
	fresh := a.signUp(t, "after-gap@example.com", testPassword)
	cached(t, b, fresh.AccessToken)
}
