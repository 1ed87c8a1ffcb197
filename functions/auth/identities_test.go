package auth

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/bootstrap/bootstraptest"
	"github.com/gatehouse-dev/gatehouse/shared/events"
	"github.com/gatehouse-dev/gatehouse/shared/events/eventstest"
	"github.com/gatehouse-dev/gatehouse/shared/notify"
	"github.com/gatehouse-dev/gatehouse/shared/store"
)

// linkIdentity links provider and subject to userID in the store, as a
// sign-in or link flow would, and returns its id.
func (te *testEnv) linkIdentity(t testing.TB, userID, provider, subject string) string {
	t.Helper()
	id := "idn_" + strings.NewReplacer(":", "_", "/", "_", ".", "_").Replace(provider+"_"+subject)
	err := te.Env.Store.LinkIdentity(context.Background(), store.Identity{ID: id, Provider: provider, Subject: subject,
		UserID: userID, CreatedAt: te.Env.Clock.Now()})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func (te *testEnv) identities(t testing.TB, access string) []linkedIdentityJSON {
	t.Helper()
	rec := te.do(t, "GET", "/identities", nil, bearer(access))
	var body struct{ Identities []linkedIdentityJSON }
	if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &body) != nil {
		t.Fatalf("GET /identities: %d %s", rec.Code, rec.Body)
	}
	return body.Identities
}

// A user lists their linked identities and unlinks one (step-up): in the
// same transaction every other session of theirs ends; the user is told;
// another user's identity is not found.
//
// Controls: AUTH-13, AUTH-14, AUTH-12, AUDIT-1
func TestIdentitiesListAndUnlink(t *testing.T) {
	backends(t, func(t *testing.T, b bootstraptest.Backend) {
		te := newTestEnv(t, b)
		tk := te.signUp(t, "una@example.com", testPassword)
		other := decodeTokens(t, te.login(t, "una@example.com", testPassword))
		te.Env.Logs.Plant(other.AccessToken, other.RefreshToken)
		mallory := te.signUp(t, "mallory@example.com", testPassword)
		google := te.linkIdentity(t, tk.UserID, "google", "g-1")
		te.Env.Clock.Advance(time.Second)
		sso := te.linkIdentity(t, tk.UserID, "oidc:https://idp.example.com", "s-1")
		te.linkIdentity(t, mallory.UserID, "github", "m-1")

		list := te.identities(t, tk.AccessToken)
		if len(list) != 2 || list[0].ID != google || list[0].Provider != "google" || list[1].ID != sso {
			t.Fatalf("identities: %+v", list)
		}
		if rec := te.do(t, "DELETE", "/identities/"+google, nil, bearer(mallory.AccessToken)); rec.Code != http.StatusNotFound {
			t.Fatalf("another user unlinked it: %d %s", rec.Code, rec.Body)
		}
		te.Env.Clock.Advance(11 * time.Minute)
		fresh := decodeTokens(t, te.do(t, "POST", "/token", map[string]string{"refresh_token": tk.RefreshToken}))
		te.Env.Logs.Plant(fresh.AccessToken, fresh.RefreshToken)
		if rec := te.do(t, "DELETE", "/identities/"+google, nil, bearer(fresh.AccessToken)); rec.Code != http.StatusForbidden ||
			errorCode(rec) != "reauthentication_required" {
			t.Fatalf("unlink without step-up: %d %s", rec.Code, rec.Body)
		}
		if rec := te.do(t, "POST", "/reauthenticate", map[string]string{"method": "password", "password": testPassword},
			bearer(fresh.AccessToken)); rec.Code != http.StatusNoContent {
			t.Fatalf("step-up: %d %s", rec.Code, rec.Body)
		}
		otherNow := decodeTokens(t, te.do(t, "POST", "/token", map[string]string{"refresh_token": other.RefreshToken}))
		te.Env.Logs.Plant(otherNow.AccessToken, otherNow.RefreshToken)
		if rec := te.do(t, "DELETE", "/identities/"+google, nil, bearer(fresh.AccessToken)); rec.Code != http.StatusNoContent {
			t.Fatalf("unlink: %d %s", rec.Code, rec.Body)
		}
		if _, err := te.Env.Store.IdentityUser(context.Background(), "google", "g-1"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("unlinked identity still signs in: %v", err)
		}
		if rec := te.do(t, "GET", "/me", nil, bearer(otherNow.AccessToken)); rec.Code != http.StatusUnauthorized {
			t.Fatalf("other session after unlink: %d", rec.Code)
		}
		if list := te.identities(t, fresh.AccessToken); len(list) != 1 || list[0].ID != sso {
			t.Fatalf("identities after unlink: %+v", list)
		}
		if rec := te.do(t, "DELETE", "/identities/"+google, nil, bearer(fresh.AccessToken)); rec.Code != http.StatusNotFound {
			t.Fatalf("second unlink: %d", rec.Code)
		}
		if m := te.lastMessage(t, "una@example.com", notify.KindAlert); !strings.Contains(m.Text, "Google") {
			t.Fatalf("unlink notice: %q", m.Text)
		}
		if ids, _ := te.Env.Store.UserIdentities(context.Background(), mallory.UserID); len(ids) != 1 {
			t.Fatal("another user's identity changed")
		}
		assertAudited(t, te, "auth.identity_unlink")
		assertAudited(t, te, "auth.sessions_revoked")
		// One identity.unlinked and one session.revoked (the refused and
		// repeated unlinks emit nothing); linkIdentity writes to the store
		// directly, so no identity.linked here.
		got := emitted(t, te.Env.Store, "user/"+tk.UserID)
		slices.Sort(got)
		want := []string{
			`identity.unlinked {"user_id":"U","provider":"google"}`,
			`session.revoked {"user_id":"U","reason":"identity_unlinked"}`,
			`user.created {"user_id":"U","email":"una@example.com","by":"user"}`,
		}
		if r := strings.ReplaceAll(strings.Join(got, "\n"), tk.UserID, "U"); r != strings.Join(want, "\n") {
			t.Fatalf("events:\n%s", r)
		}
		eventstest.Require(t, te.Env.Store, events.IdentityUnlinked, "user/"+tk.UserID, map[string]string{"user_id": tk.UserID, "provider": "google"})
	})
}

// plantedAccount is what an organization's identity provider could create
// before domains were verified: an account for someone else's address,
// its address never proven, with the provider's identity linked. It
// returns the account's id.
func (te *testEnv) plantedAccount(t testing.TB, email string) string {
	t.Helper()
	now := te.Env.Clock.Now()
	if err := te.Env.Store.CreateUser(context.Background(), store.User{ID: "u_planted", Email: email, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	te.linkIdentity(t, "u_planted", "oidc:https://attacker-idp.example", "attacker")
	return "u_planted"
}

// Finding 2: an account an attacker's identity provider created for a
// victim's address kept the attacker's identity after the real holder
// reset the password. Now the reset, which proves the address, removes
// every identity linked before it was proven, ends every session and
// tells the holder; an identity linked after the proof survives the next
// reset. Fails on the code before this change (the identity survived).
//
// Controls: AUTH-13, AUTH-14, AUTH-8
func TestPasswordResetRemovesIdentitiesLinkedBeforeProof(t *testing.T) {
	backends(t, func(t *testing.T, b bootstraptest.Backend) {
		te := newTestEnv(t, b)
		userID := te.plantedAccount(t, "victim@example.com")
		reset := func() {
			t.Helper()
			te.do(t, "POST", "/password/reset", map[string]string{"email": "victim@example.com"})
			tok := linkToken(t, te.lastMessage(t, "victim@example.com", notify.KindPasswordReset))
			te.Env.Logs.Plant(tok, otherPassword)
			if rec := te.do(t, "POST", "/password/reset/confirm", map[string]string{"token": tok, "password": otherPassword}); rec.Code != http.StatusNoContent {
				t.Fatalf("reset: %d %s", rec.Code, rec.Body)
			}
		}
		reset()
		if _, err := te.Env.Store.IdentityUser(context.Background(), "oidc:https://attacker-idp.example", "attacker"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("the planted identity survived the reset: %v", err)
		}
		if u, _ := te.Env.Store.User(context.Background(), userID); u.EmailVerifiedAt.IsZero() {
			t.Fatal("the reset did not record the proven address")
		}
		found := false
		msgs, _ := te.Env.Mailbox.List()
		for _, m := range msgs {
			found = found || m.Kind == notify.KindAlert && strings.Contains(m.Text, "attacker-idp.example")
		}
		if !found {
			t.Fatal("the holder was not told the identity was removed")
		}
		te.Env.Clock.Advance(time.Minute)
		te.linkIdentity(t, userID, "google", "victim-google")
		reset()
		if got, err := te.Env.Store.IdentityUser(context.Background(), "google", "victim-google"); err != nil || got != userID {
			t.Fatalf("an identity linked after the proof was removed: %q, %v", got, err)
		}
	})
}

// The first sign-in with an e-mailed link proves the address too: the
// planted identity goes, and every other session with it.
//
// Controls: AUTH-13, AUTH-14, AUTH-9
func TestMagicLinkRemovesIdentitiesLinkedBeforeProof(t *testing.T) {
	backends(t, func(t *testing.T, b bootstraptest.Backend) {
		te := newTestEnv(t, b)
		userID := te.plantedAccount(t, "victim@example.com")
		attacker := decodeTokens(t, te.completeSession(t, userID))
		te.Env.Logs.Plant(attacker.AccessToken, attacker.RefreshToken)
		te.do(t, "POST", "/magic-link", map[string]string{"email": "victim@example.com"})
		tok := linkToken(t, te.lastMessage(t, "victim@example.com", notify.KindMagicLink))
		te.Env.Logs.Plant(tok)
		tk := decodeTokens(t, te.do(t, "POST", "/magic-link/verify", map[string]string{"token": tok}))
		te.Env.Logs.Plant(tk.AccessToken, tk.RefreshToken)
		if ids, _ := te.Env.Store.UserIdentities(context.Background(), userID); len(ids) != 0 {
			t.Fatalf("identities after the first proof: %+v", ids)
		}
		if rec := te.do(t, "GET", "/me", nil, bearer(attacker.AccessToken)); rec.Code != http.StatusUnauthorized {
			t.Fatalf("the session the planted identity opened survived: %d", rec.Code)
		}
		if rec := te.do(t, "GET", "/me", nil, bearer(tk.AccessToken)); rec.Code != http.StatusOK {
			t.Fatalf("the holder's new session: %d", rec.Code)
		}
	})
}

// completeSession starts an API-client session for userID as a provider
// sign-in would, and returns the token response.
func (te *testEnv) completeSession(t testing.TB, userID string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	r := httptest.NewRequest("POST", "/signin", nil)
	if err := te.Sessions.Complete(r.Context(), rec, r, userID, []string{"fed"}); err != nil {
		t.Fatal(err)
	}
	return rec
}
