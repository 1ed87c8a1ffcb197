package oauthcallback

import (
	"errors"
	"net/http"
	"testing"

	"github.com/gatehouse-dev/gatehouse/shared/events"
	"github.com/gatehouse-dev/gatehouse/shared/events/eventstest"
	"github.com/gatehouse-dev/gatehouse/shared/oauthtest"
	"github.com/gatehouse-dev/gatehouse/shared/store"
)

// A change that fails after writing an event leaves no event: the
// confirmed first sign-in writes user.created, then identity.linked
// cannot be written, and the whole transaction (the account, its link,
// the spent confirmation and user.created) rolls back. Confirming again
// commits the account with each of its events once.
func TestFirstSignInRolledBackWithItsEvents(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *testEnv) {
		user := oauthtest.User{Subject: "rb-1", Email: "rollback@example.com", EmailVerified: true}
		e.srv.SetUser(user)
		rec := e.signInFlow(t, "/signin/google?return_to=/home", nil)
		if got := redirectQuery(t, rec).Get("signin_pending"); got != "email" {
			t.Fatalf("first sign-in: %q", rec.Header().Get("Location"))
		}
		working := e.Events
		e.Events = &events.Emitter{Topic: working.Topic, Env: working.Env, Now: working.Now, Rand: &oneRead{}}
		if conf := e.confirm(t, user.Email); conf.Code != http.StatusServiceUnavailable {
			t.Fatalf("confirm with the second event failing: %d %s", conf.Code, conf.Body)
		}
		if _, err := e.Store.UserByEmail(t.Context(), user.Email); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("account after the rolled-back confirmation: %v", err)
		}
		if all := eventstest.Outbox(t, e.Store); len(all) != 0 {
			t.Fatalf("events of a rolled-back change: %v", all)
		}
		e.Events = working
		userID := e.firstSignIn(t, "/signin/google?return_to=/home", user)
		eventstest.Require(t, e.Store, events.UserCreated, "user/"+userID, map[string]string{"user_id": userID, "email": user.Email})
		eventstest.Require(t, e.Store, events.IdentityLinked, "user/"+userID, map[string]string{"user_id": userID, "provider": "google"})
	})
}

// oneRead fills the first read (one event id) and fails every later one.
type oneRead struct{ done bool }

func (r *oneRead) Read(p []byte) (int, error) {
	if r.done {
		return 0, errors.New("injected: no more randomness")
	}
	r.done = true
	clear(p)
	return len(p), nil
}
