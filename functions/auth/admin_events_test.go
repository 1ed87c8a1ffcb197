package auth

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/bootstrap/bootstraptest"
	"github.com/gatehouse-dev/gatehouse/shared/session"
	"github.com/gatehouse-dev/gatehouse/shared/store"
)

// seedDeliveries stores a dead, a delivered and a pending event webhook
// delivery, as the deliverer leaves them.
func seedDeliveries(t *testing.T, s store.Store, now time.Time) {
	t.Helper()
	ctx := context.Background()
	for i, final := range []store.DeliveryState{store.DeliveryDead, store.DeliveryDelivered, store.DeliveryPending} {
		id := "dlv_" + string(rune('1'+i))
		d := store.EventDelivery{ID: id, EventID: "evt_" + id, EventType: "com.gatehouse.user.created.v1",
			Endpoint: "https://saas.example.com/hooks?key=saas-own-credential", Body: `{}`, CreatedAt: now, NextAttemptAt: now}
		if err := s.EnqueueEventDelivery(ctx, d); err != nil {
			t.Fatal(err)
		}
		if final == store.DeliveryPending {
			continue
		}
		if _, err := s.LeaseEventDelivery(ctx, id, now, now.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		res := store.DeliveryResult{State: final, At: now, Status: 204}
		if final == store.DeliveryDead {
			res.Status, res.Error = 500, "endpoint answered 500 Internal Server Error"
		}
		if err := s.FinishEventDelivery(ctx, id, 1, res); err != nil {
			t.Fatal(err)
		}
	}
}

// Operators list event webhook deliveries by state and send a dead one
// again: it becomes pending and due with its attempts reset, audited with
// the operator and reason in the same transaction. A pending delivery
// cannot be redelivered; a user's session and a service account outside
// the allowlist reach neither route.
//
// Controls: AUTHZ-2, AUDIT-1
func TestAdminEventDeliveries(t *testing.T) {
	backends(t, func(t *testing.T, b bootstraptest.Backend) {
		ae := newAdminEnv(t, b)
		ctx, now := context.Background(), ae.Env.Clock.Now()
		seedDeliveries(t, ae.Env.Store, now)
		type list struct {
			Deliveries []adminDeliveryJSON `json:"deliveries"`
			NextAfter  string              `json:"next_after"`
		}
		var l list
		decodeJSON(t, ae.call(t, "GET", "/admin/event-deliveries?state=dead", nil), http.StatusOK, &l)
		if len(l.Deliveries) != 1 || l.Deliveries[0].ID != "dlv_1" || l.Deliveries[0].State != "dead" ||
			l.Deliveries[0].LastStatus != 500 || l.Deliveries[0].Endpoint != "https://saas.example.com/hooks" {
			t.Fatalf("dead = %+v", l)
		}
		decodeJSON(t, ae.call(t, "GET", "/admin/event-deliveries?limit=2", nil), http.StatusOK, &l)
		if len(l.Deliveries) != 2 || l.NextAfter != "dlv_2" {
			t.Fatalf("first page = %+v", l)
		}
		decodeJSON(t, ae.call(t, "GET", "/admin/event-deliveries?after=dlv_2", nil), http.StatusOK, &l)
		if len(l.Deliveries) != 1 || l.Deliveries[0].ID != "dlv_3" || l.Deliveries[0].NextAttemptAt == nil {
			t.Fatalf("second page = %+v", l)
		}
		if rec := ae.call(t, "GET", "/admin/event-deliveries?state=lost", nil); rec.Code != http.StatusBadRequest {
			t.Fatalf("unknown state: %d %s", rec.Code, rec.Body)
		}
		var d adminDeliveryJSON
		decodeJSON(t, ae.call(t, "POST", "/admin/event-deliveries/dlv_1/redeliver", nil), http.StatusOK, &d)
		if d.State != "pending" || d.Attempts != 0 || d.NextAttemptAt == nil || !d.NextAttemptAt.Equal(now) {
			t.Fatalf("redelivered = %+v", d)
		}
		if due, err := ae.Env.Store.DueEventDeliveries(ctx, now, 10); err != nil || len(due) != 2 {
			t.Fatalf("due after redelivery = %+v, %v", due, err)
		}
		for _, tc := range []struct {
			id     string
			status int
			code   string
		}{
			{"dlv_1", http.StatusConflict, "delivery_pending"},
			{"dlv_3", http.StatusConflict, "delivery_pending"},
			{"nope", http.StatusNotFound, "not_found"},
			{"dlv_2", http.StatusOK, ""},
		} {
			rec := ae.call(t, "POST", "/admin/event-deliveries/"+tc.id+"/redeliver", nil)
			if rec.Code != tc.status || (tc.code != "" && errorCode(rec) != tc.code) {
				t.Fatalf("redeliver %s: %d %s", tc.id, rec.Code, rec.Body)
			}
		}
		ae.Env.IntegrateAudit(t)
		evs, err := ae.Env.Store.ActorAuditEvents(ctx, "operator:"+adminSA, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		var redelivered, listed int
		for _, e := range evs {
			switch e.Action {
			case "admin.event_delivery.redeliver":
				redelivered++
				if !strings.Contains(string(e.Metadata), "SUP-1234") {
					t.Fatalf("audit event without the reason: %s", e.Metadata)
				}
			case "admin.event_delivery.list":
				listed++
			}
		}
		if redelivered != 2 || listed != 3 {
			t.Fatalf("%d redeliveries and %d lists audited, want 2 and 3", redelivered, listed)
		}
	})
}

// A user's session or access token, and an ID token of a service account
// that is not allowed, are refused by both routes before anything is read
// or changed.
//
// Controls: AUTHZ-2
func TestAdminEventDeliveriesRefuseNonOperators(t *testing.T) {
	ae := newAdminEnv(t, bootstraptest.Backends[0])
	now := ae.Env.Clock.Now()
	seedDeliveries(t, ae.Env.Store, now)
	user := ae.signUp(t, "ann@example.com", testPassword)
	reason := "ticket SUP-2: looking"
	intruder := ae.idToken(t, func(c map[string]any) { c["email"] = "intruder@gatehouse-prod.iam.gserviceaccount.com" })
	for _, h := range []http.Header{
		{"Authorization": {"Bearer " + user.AccessToken}, ReasonHeader: {reason}},
		{"Cookie": {session.AccessCookie + "=" + user.AccessToken}, session.ClientHeader: {"browser"}, ReasonHeader: {reason}},
		{"Authorization": {"Bearer " + intruder}, ReasonHeader: {reason}},
	} {
		for _, route := range [][2]string{{"GET", "/admin/event-deliveries?state=dead"}, {"POST", "/admin/event-deliveries/dlv_1/redeliver"}} {
			rec := ae.do(t, route[0], route[1], nil, h)
			if rec.Code != http.StatusUnauthorized || errorCode(rec) != "operator_unauthenticated" {
				t.Fatalf("%s %s: %d %s", route[0], route[1], rec.Code, rec.Body)
			}
		}
	}
	if d, err := ae.Env.Store.EventDelivery(context.Background(), "dlv_1"); err != nil || d.State != store.DeliveryDead {
		t.Fatalf("dlv_1 = %+v, %v; want still dead", d, err)
	}
}
