package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/store"
)

func delivery(id, eventID, endpoint string, due time.Time) store.EventDelivery {
	return store.EventDelivery{ID: id, EventID: eventID, EventType: "com.gatehouse.user.created.v1", Endpoint: endpoint,
		Body: `{"id":"` + eventID + `"}`, CreatedAt: epoch, NextAttemptAt: due}
}

// The life of a delivery: enqueued pending, leased (an attempt counted),
// retried, delivered or dead, listed by state, redelivered by an operator,
// purged once settled; a stale attempt cannot record its result.
func testEventDeliveries(t *testing.T, open Opener) {
	s, ctx := open(t), context.Background()
	const a, b = "https://a.example/hook", "https://b.example/hook"
	for _, d := range []store.EventDelivery{
		delivery("dlv_1", "evt_1", a, epoch),
		delivery("dlv_2", "evt_1", b, epoch),
		delivery("dlv_3", "evt_2", a, epoch.Add(time.Minute)),
	} {
		if err := s.EnqueueEventDelivery(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	for name, d := range map[string]store.EventDelivery{
		"same id":             delivery("dlv_1", "evt_9", a, epoch),
		"same event endpoint": delivery("dlv_9", "evt_1", a, epoch),
	} {
		if err := s.EnqueueEventDelivery(ctx, d); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("%s: err = %v, want ErrConflict", name, err)
		}
	}
	due, err := s.DueEventDeliveries(ctx, epoch, 10)
	if err != nil || len(due) != 2 || due[0].ID != "dlv_1" || due[1].ID != "dlv_2" || due[0].State != store.DeliveryPending ||
		due[0].Body != `{"id":"evt_1"}` || due[0].Attempts != 0 {
		t.Fatalf("DueEventDeliveries(epoch) = %+v, %v; want dlv_1, dlv_2 pending", due, err)
	}
	d, err := s.LeaseEventDelivery(ctx, "dlv_1", epoch, epoch.Add(time.Minute))
	if err != nil || d.Attempts != 1 || !d.NextAttemptAt.Equal(epoch.Add(time.Minute)) {
		t.Fatalf("LeaseEventDelivery = %+v, %v", d, err)
	}
	for _, tc := range []struct {
		name string
		id   string
		want error
	}{
		{"leased", "dlv_1", store.ErrUsed},
		{"not due", "dlv_3", store.ErrUsed},
		{"unknown", "nope", store.ErrNotFound},
	} {
		if _, err := s.LeaseEventDelivery(ctx, tc.id, epoch, epoch.Add(time.Minute)); !errors.Is(err, tc.want) {
			t.Fatalf("lease %s: err = %v, want %v", tc.name, err, tc.want)
		}
	}
	retry := store.DeliveryResult{State: store.DeliveryPending, At: epoch.Add(time.Second),
		NextAttemptAt: epoch.Add(2 * time.Minute), Status: 503, Error: "503 Service Unavailable"}
	if err := s.FinishEventDelivery(ctx, "dlv_1", 1, retry); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishEventDelivery(ctx, "dlv_1", 1, retry); !errors.Is(err, store.ErrUsed) {
		t.Fatalf("finish twice: err = %v, want ErrUsed", err)
	}
	if err := s.FinishEventDelivery(ctx, "nope", 1, retry); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("finish unknown: err = %v, want ErrNotFound", err)
	}
	d, err = s.EventDelivery(ctx, "dlv_1")
	if err != nil || d.State != store.DeliveryPending || d.LastStatus != 503 || d.LastError != retry.Error ||
		!d.NextAttemptAt.Equal(retry.NextAttemptAt) || !d.UpdatedAt.Equal(retry.At) {
		t.Fatalf("after a failed attempt: %+v, %v", d, err)
	}
	later := epoch.Add(time.Hour)
	if d, err = s.LeaseEventDelivery(ctx, "dlv_1", later, later.Add(time.Minute)); err != nil || d.Attempts != 2 {
		t.Fatalf("second lease = %+v, %v", d, err)
	}
	if err := s.FinishEventDelivery(ctx, "dlv_1", 1, retry); !errors.Is(err, store.ErrUsed) {
		t.Fatalf("stale attempt: err = %v, want ErrUsed", err)
	}
	if err := s.FinishEventDelivery(ctx, "dlv_1", 2, store.DeliveryResult{State: store.DeliveryDelivered, At: later, Status: 204}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.LeaseEventDelivery(ctx, "dlv_2", later, later.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishEventDelivery(ctx, "dlv_2", 1, store.DeliveryResult{State: store.DeliveryDead, At: later, Error: "refused"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.LeaseEventDelivery(ctx, "dlv_2", later, later.Add(time.Minute)); !errors.Is(err, store.ErrUsed) {
		t.Fatalf("lease dead: err = %v, want ErrUsed", err)
	}
	if due, _ := s.DueEventDeliveries(ctx, later, 10); len(due) != 1 || due[0].ID != "dlv_3" {
		t.Fatalf("due later = %+v; want dlv_3 only", due)
	}
	for _, tc := range []struct {
		state store.DeliveryState
		after string
		want  string
	}{
		{store.DeliveryDelivered, "", "dlv_1"},
		{store.DeliveryDead, "", "dlv_2"},
		{store.DeliveryPending, "", "dlv_3"},
		{"", "", "dlv_1 dlv_2 dlv_3"},
		{"", "dlv_1", "dlv_2 dlv_3"},
		{store.DeliveryDead, "dlv_2", ""},
	} {
		list, err := s.ListEventDeliveries(ctx, tc.state, tc.after, 10)
		if got := ids(list); err != nil || got != tc.want {
			t.Fatalf("ListEventDeliveries(%q, %q) = %q, %v; want %q", tc.state, tc.after, got, err, tc.want)
		}
	}
	if d, _ := s.EventDelivery(ctx, "dlv_1"); !d.DeliveredAt.Equal(later) || d.LastStatus != 204 || d.LastError != "" {
		t.Fatalf("delivered: %+v", d)
	}
	again := later.Add(time.Hour)
	d, err = s.RedeliverEventDelivery(ctx, "dlv_2", again)
	if err != nil || d.State != store.DeliveryPending || d.Attempts != 0 || !d.NextAttemptAt.Equal(again) {
		t.Fatalf("redeliver dead = %+v, %v", d, err)
	}
	if _, err := s.RedeliverEventDelivery(ctx, "dlv_2", again); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("redeliver pending: err = %v, want ErrConflict", err)
	}
	if _, err := s.RedeliverEventDelivery(ctx, "nope", again); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("redeliver unknown: err = %v, want ErrNotFound", err)
	}
	if d, err := s.LeaseEventDelivery(ctx, "dlv_2", again, again.Add(time.Minute)); err != nil || d.Attempts != 1 {
		t.Fatalf("lease redelivered = %+v, %v", d, err)
	}
	n, err := s.PurgeEventDeliveries(ctx, again)
	if err != nil || n != 1 {
		t.Fatalf("PurgeEventDeliveries = %d, %v; want 1 (dlv_1)", n, err)
	}
	for _, id := range []string{"dlv_2", "dlv_3"} {
		if _, err := s.EventDelivery(ctx, id); err != nil {
			t.Fatalf("pending %s purged: %v", id, err)
		}
	}
}

func ids(ds []store.EventDelivery) string {
	s := ""
	for i, d := range ds {
		if i > 0 {
			s += " "
		}
		s += d.ID
	}
	return s
}

// 50 deliverers lease one due delivery at once: exactly one gets it; and
// a delivery enqueued in a transaction that rolls back does not exist.
func testEventDeliveryLeaseRace(t *testing.T, open Opener) {
	s, ctx := open(t), context.Background()
	if err := s.EnqueueEventDelivery(ctx, delivery("dlv_race", "evt_race", "https://a.example/", epoch)); err != nil {
		t.Fatal(err)
	}
	errs := race(50, func(int) error {
		_, err := s.LeaseEventDelivery(ctx, "dlv_race", epoch, epoch.Add(time.Minute))
		return err
	})
	exactlyOne(t, errs, store.ErrUsed)
	errBack := fmt.Errorf("roll back")
	err := s.Tx(ctx, func(tx store.Store) error {
		if err := tx.EnqueueEventDelivery(ctx, delivery("dlv_back", "evt_back", "https://a.example/", epoch)); err != nil {
			return err
		}
		return errBack
	})
	if !errors.Is(err, errBack) {
		t.Fatal(err)
	}
	if _, err := s.EventDelivery(ctx, "dlv_back"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("rolled-back delivery: err = %v, want ErrNotFound", err)
	}
}
