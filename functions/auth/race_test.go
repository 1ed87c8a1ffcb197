package auth

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"

	"github.com/gatehouse-dev/gatehouse/shared/bootstrap/bootstraptest"
	"github.com/gatehouse-dev/gatehouse/shared/notify"
)

// race sends n copies of one request at once, each from its own network
// (so per-network limits do not interfere), and returns their statuses.
func (te *testEnv) race(t *testing.T, n int, path string, body any) map[int]int {
	t.Helper()
	codes := make([]int, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			codes[i] = te.do(t, "POST", path, body, fromNetwork("10.0."+strconv.Itoa(i)+".1")).Code
		})
	}
	close(start)
	wg.Wait()
	out := map[int]int{}
	for _, c := range codes {
		out[c]++
	}
	return out
}

// 50 parallel confirmations of one reset token, one magic link and one
// refresh token (grace disabled) on PostgreSQL: exactly one succeeds each.
//
// Controls: AUTH-6, AUTH-8, AUTH-9
func TestSingleUseUnderConcurrency(t *testing.T) {
	const n = 50
	pg := bootstraptest.Backends[1]
	te := newTestEnv(t, pg, func(c *Config, _ *Extension) { c.Session.RefreshGrace = -1 })
	first := te.signUp(t, "xia@example.com", testPassword)

	te.do(t, "POST", "/password/reset", map[string]string{"email": "xia@example.com"})
	reset := linkToken(t, te.lastMessage(t, "xia@example.com", notify.KindPasswordReset))
	te.do(t, "POST", "/magic-link", map[string]string{"email": "xia@example.com"})
	magic := linkToken(t, te.lastMessage(t, "xia@example.com", notify.KindMagicLink))
	te.Env.Logs.Plant(reset, magic, otherPassword)

	got := te.race(t, n, "/token", map[string]string{"refresh_token": first.RefreshToken})
	if got[http.StatusOK] != 1 || got[http.StatusUnauthorized] != n-1 {
		t.Errorf("refresh: %v, want one 200 and %d 401", got, n-1)
	}
	got = te.race(t, n, "/magic-link/verify", map[string]string{"token": magic})
	if got[http.StatusOK] != 1 || got[http.StatusBadRequest] != n-1 {
		t.Errorf("magic link: %v, want one 200 and %d 400", got, n-1)
	}
	got = te.race(t, n, "/password/reset/confirm", map[string]string{"token": reset, "password": otherPassword})
	if got[http.StatusNoContent] != 1 || got[http.StatusBadRequest] != n-1 {
		t.Errorf("reset: %v, want one 204 and %d 400", got, n-1)
	}
}

// With the default 10-second grace, 50 parallel presentations of one
// refresh token on PostgreSQL: exactly one rotates it and exactly one more
// (a second tab) gets the same successor; every other presentation is a
// reuse, which revokes the session.
//
// Controls: AUTH-6
func TestRefreshGraceUnderConcurrency(t *testing.T) {
	const n = 50
	te := newTestEnv(t, bootstraptest.Backends[1])
	first := te.signUp(t, "yves@example.com", testPassword)
	bodies := make([]*httptest.ResponseRecorder, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			bodies[i] = te.do(t, "POST", "/token", map[string]string{"refresh_token": first.RefreshToken},
				fromNetwork("10.1."+strconv.Itoa(i)+".1"))
		})
	}
	close(start)
	wg.Wait()
	var successors []string
	for _, rec := range bodies {
		switch rec.Code {
		case http.StatusOK:
			tk := decodeTokens(t, rec)
			te.Env.Logs.Plant(tk.AccessToken, tk.RefreshToken)
			successors = append(successors, tk.RefreshToken)
		case http.StatusUnauthorized:
		default:
			t.Fatalf("refresh: %d %s", rec.Code, rec.Body)
		}
	}
	if len(successors) != 2 || successors[0] != successors[1] {
		t.Fatalf("%d successes (want 2 with one successor): %v", len(successors), len(successors) == 2 && successors[0] != successors[1])
	}
	if rec := te.do(t, "POST", "/token", map[string]string{"refresh_token": successors[0]}); rec.Code != http.StatusUnauthorized {
		t.Fatalf("the session survived %d reuses: %d", n-2, rec.Code)
	}
	assertAudited(t, te, "auth.refresh_reuse")
}
