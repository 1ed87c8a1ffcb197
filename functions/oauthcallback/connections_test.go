package oauthcallback

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/broker"
	"github.com/gatehouse-dev/gatehouse/shared/envelope"
	"github.com/gatehouse-dev/gatehouse/shared/events"
	"github.com/gatehouse-dev/gatehouse/shared/events/eventstest"
	"github.com/gatehouse-dev/gatehouse/shared/store"
)

// connectGoogleAds runs the whole flow for the admin and returns the
// connection and its plaintext access token.
func (e *testEnv) connectGoogleAds(t *testing.T) (store.Connection, string) {
	t.Helper()
	f := e.start(t, e.users["admin"], "google_ads", "org=org-a&return_to=/i&label=Main+account")
	id := redirectQuery(t, e.finish(t, "google_ads", f.callback, f.cookie)).Get("connection")
	c, err := e.Store.Connection(context.Background(), orgA, id)
	if err != nil {
		t.Fatal(err)
	}
	at, err := e.Keyring.Open(context.Background(), envelope.PurposeCredential, broker.Binding(orgA, id, broker.FieldAccessToken), c.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	e.Logs.Plant(string(at))
	return c, string(at)
}

func (e *testEnv) brokerCall(t *testing.T, org, id string) *http.Response {
	t.Helper()
	return e.do(t, http.MethodPost, "/internal/token", `{"org_id":"`+org+`","connection_id":"`+id+`"}`,
		"Authorization", "Bearer "+brokerSecret, "Content-Type", "application/json").Result()
}

// Controls: CRED-4, AUTHZ-3
func TestListConnections(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *testEnv) {
		c, at := e.connectGoogleAds(t)
		rec := e.do(t, http.MethodGet, "/connections?org=org-a", "", bearer(e.users["viewer"])...)
		var body struct {
			Connections []connectionJSON `json:"connections"`
		}
		if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &body) != nil || len(body.Connections) != 1 {
			t.Fatalf("list: %d %s", rec.Code, rec.Body)
		}
		got := body.Connections[0]
		if got.ID != c.ID || got.Platform != "google_ads" || got.Account != "Main account" || got.Status != "active" ||
			!slices.Contains(got.Scopes, "https://www.googleapis.com/auth/adwords") {
			t.Fatalf("listed %+v", got)
		}
		if strings.Contains(rec.Body.String(), at) || strings.Contains(rec.Body.String(), "token") {
			t.Fatalf("list leaks a token: %s", rec.Body)
		}
		if rec := e.do(t, http.MethodGet, "/connections?org=org-a", "", bearer(e.users["outsider"])...); rec.Code != http.StatusForbidden {
			t.Fatalf("outsider listed org A: %d", rec.Code)
		}
	})
}

// Disconnect revokes at once, revokes at the platform, and the broker
// never hands the token out again.
//
// Controls: CRED-6, AUTH-12, AUDIT-1
func TestDisconnect(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *testEnv) {
		c, at := e.connectGoogleAds(t)
		path := "/connections/" + c.ID + "/disconnect?org=org-a"
		stale := e.signIn(t, "user-admin")
		e.stale(t, stale)
		for _, tc := range []struct {
			name   string
			user   testUser
			status int
		}{
			{"viewer", e.users["viewer"], 403},
			{"outsider", e.users["outsider"], 403},
			{"no recent authentication", stale, 403},
		} {
			if rec := e.do(t, http.MethodPost, path, "", bearer(tc.user)...); rec.Code != tc.status {
				t.Fatalf("%s: %d %s", tc.name, rec.Code, rec.Body)
			}
		}
		if rec := e.do(t, http.MethodPost, "/connections/"+c.ID+"/disconnect?org=org-b", "", bearer(e.users["outsider"])...); rec.Code != http.StatusNotFound {
			t.Fatalf("outsider disconnecting org A's connection through org B: %d", rec.Code)
		}
		rec := e.do(t, http.MethodPost, path, "", bearer(e.users["admin"])...)
		if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"revoked_at_provider":true`) {
			t.Fatalf("disconnect: %d %s", rec.Code, rec.Body)
		}
		if got, _ := e.Store.Connection(context.Background(), orgA, c.ID); got.Status != store.ConnectionRevoked {
			t.Fatalf("status %s", got.Status)
		}
		if e.srv.Revocations() != 1 || e.srv.AccessTokenValid(at) {
			t.Fatal("not revoked at the platform")
		}
		if resp := e.brokerCall(t, orgA, c.ID); resp.StatusCode != http.StatusConflict {
			t.Fatalf("broker after disconnect: %d", resp.StatusCode)
		}
		e.Clock.Advance(2 * time.Hour) // past expiry: still never refreshed
		if resp := e.brokerCall(t, orgA, c.ID); resp.StatusCode != http.StatusConflict || e.srv.RefreshCalls() != 0 {
			t.Fatalf("broker after disconnect and expiry: %d, refreshes %d", resp.StatusCode, e.srv.RefreshCalls())
		}
		actions := auditActions(t, e)
		if !slices.Contains(actions, "credential.revoke") || !slices.Contains(actions, "credential.revoke_at_provider") {
			t.Fatalf("audit %v", actions)
		}
		// One event per committed change; the refused disconnects emit none.
		if got := subjectEvents(t, e.Store, "connection/"+c.ID); strings.Join(got, " ") != "connection.created connection.revoked" {
			t.Fatalf("events %v", got)
		}
		eventstest.Require(t, e.Store, events.ConnectionCreated, "connection/"+c.ID,
			map[string]string{"connection_id": c.ID, "user_id": "user-admin", "org_id": orgA, "provider": "google_ads"})
		eventstest.Require(t, e.Store, events.ConnectionRevoked, "connection/"+c.ID,
			map[string]string{"connection_id": c.ID, "user_id": "user-admin", "org_id": orgA, "provider": "google_ads", "reason": "disconnected"})
	})
}

// subjectEvents returns the kinds of the events about subject in s's
// outbox (docs/events.md), sorted.
func subjectEvents(t *testing.T, s store.Store, subject string) []string {
	t.Helper()
	due, err := s.DueOutbox(context.Background(), time.Now().Add(100*365*24*time.Hour), 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range due {
		if m.Attributes["ce-subject"] == subject {
			out = append(out, strings.TrimSuffix(strings.TrimPrefix(m.Attributes["ce-type"], "com.gatehouse."), ".v1"))
		}
	}
	slices.Sort(out)
	return out
}

// A platform that fails to revoke does not block the disconnect.
//
// Controls: CRED-6, APP-5
func TestDisconnectWhenPlatformDown(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *testEnv) {
		c, _ := e.connectGoogleAds(t)
		e.srv.SetDown(true)
		rec := e.do(t, http.MethodPost, "/connections/"+c.ID+"/disconnect?org=org-a", "", bearer(e.users["admin"])...)
		if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"revoked_at_provider":false`) {
			t.Fatalf("disconnect: %d %s", rec.Code, rec.Body)
		}
		if got, _ := e.Store.Connection(context.Background(), orgA, c.ID); got.Status != store.ConnectionRevoked {
			t.Fatalf("status %s", got.Status)
		}
		evs, _ := e.Store.AuditEvents(context.Background(), 0, 100)
		last := evs[len(evs)-1]
		if last.Action != "credential.revoke_at_provider" || last.Outcome != store.OutcomeFailure {
			t.Fatalf("last audit event %s %s", last.Action, last.Outcome)
		}
	})
}

// Controls: CRED-7, APP-1, APP-5
func TestBrokerEndpoint(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *testEnv) {
		c, at := e.connectGoogleAds(t)
		body := `{"org_id":"org-a","connection_id":"` + c.ID + `"}`
		for _, tc := range []struct {
			name   string
			body   string
			hdr    []string
			status int
		}{
			{"no credential", body, []string{"Content-Type", "application/json"}, 401},
			{"wrong secret", body, []string{"Authorization", "Bearer " + strings.Repeat("x", len(brokerSecret)), "Content-Type", "application/json"}, 401},
			{"session token is not a service credential", body, append(bearer(e.users["admin"]), "Content-Type", "application/json"), 401},
			{"unknown field", `{"org_id":"org-a","connection_id":"x","scope":"*"}`, []string{"Authorization", "Bearer " + brokerSecret, "Content-Type", "application/json"}, 400},
			{"another organization's id", `{"org_id":"org-b","connection_id":"` + c.ID + `"}`, []string{"Authorization", "Bearer " + brokerSecret, "Content-Type", "application/json"}, 404},
			{"ok", body, []string{"Authorization", "Bearer " + brokerSecret, "Content-Type", "application/json"}, 200},
		} {
			rec := e.do(t, http.MethodPost, "/internal/token", tc.body, tc.hdr...)
			if rec.Code != tc.status {
				t.Fatalf("%s: %d %s", tc.name, rec.Code, rec.Body)
			}
			if (rec.Code == 200) != strings.Contains(rec.Body.String(), at) {
				t.Fatalf("%s: token in body = %v", tc.name, rec.Code != 200)
			}
		}
	})
}
