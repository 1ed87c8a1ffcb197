package rotate

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/gatehouse-dev/gatehouse/shared/logging"
	"github.com/gatehouse-dev/gatehouse/shared/store"
)

// snapshot renders everything rotation may change: data keys (with their
// wrapped bytes), every sealed value, signing keys, the checkpoint.
func (f *fixture) snapshot(t testing.TB) string {
	t.Helper()
	ctx := context.Background()
	var b strings.Builder
	keys, err := f.Store.ListDataKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		fmt.Fprintf(&b, "key %s %s %x %s %v\n", k.ID, k.State, sha256.Sum256(k.Wrapped), k.KEKVersion, k.UpdatedAt)
	}
	for _, c := range f.cols {
		vs, err := f.Store.SealedValues(ctx, c, "", "", 100000)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range vs {
			fmt.Fprintf(&b, "value %s %s %s %x\n", c.Field(), v.ID, v.KeyID, sha256.Sum256(v.Ciphertext))
		}
	}
	sks, err := f.Store.SigningKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range sks {
		fmt.Fprintf(&b, "signing %s %v\n", k.ID, k.ActiveAt)
	}
	cp, err := f.Store.SignedAuditCheckpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(&b, "checkpoint %d %x %x\n", cp.Seq, cp.Hash, cp.Signature)
	return b.String()
}

// seedEverything gives every task something to do: sealed values under old
// keys, an old audit trail, expired one-time tokens, an 8-year-old billing
// record.
func (f *fixture) seedEverything(t testing.TB) {
	t.Helper()
	ctx := context.Background()
	f.sealAcrossKeys(t, 120, 2)
	for i := range 3 {
		if _, err := f.Store.AppendAuditEvent(ctx, store.AuditEvent{Time: longAgo.Add(time.Duration(i) * time.Hour),
			Actor: "system", Action: "old.event", Outcome: store.OutcomeSuccess}); err != nil {
			t.Fatal(err)
		}
	}
	f.IntegrateAudit(t)
	for i := range 3 {
		if err := f.Store.CreateOneTimeToken(ctx, store.OneTimeToken{Hash: sha256.Sum256([]byte{byte(i)}), Purpose: "magic_link",
			Subject: "u", CreatedAt: f.Clock.Now(), ExpiresAt: f.Clock.Now().Add(time.Minute)}); err != nil {
			t.Fatal(err)
		}
	}
	old := f.Clock.Now().AddDate(-8, 0, 0)
	if err := f.Store.ClaimWebhookEvent(ctx, store.WebhookEvent{Provider: "stripe", ID: "evt_old", Type: "invoice.paid",
		OccurredAt: old, ReceivedAt: old, Status: store.WebhookApplied, Data: "{}"}); err != nil {
		t.Fatal(err)
	}
	// Past testConfig's data-key period; not far, since the database
	// checks the audit cutoff against its own (real) clock.
	f.Clock.Advance(2 * time.Hour)
}

var longAgo = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)

// Every task is idempotent: the same message delivered again is
// acknowledged and changes nothing, and a new scheduled message right after
// a full run finds nothing to do.
//
// Controls: CRED-8, AUDIT-3, DATA-2
func TestRunIdempotent(t *testing.T) {
	for _, b := range backends {
		t.Run(b, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, b)
			f.seedEverything(t)
			r := f.rotator(t, testConfig())
			ctx := context.Background()
			rep, err := r.Run(ctx, Request{ID: "m1", Message: schedule()})
			if err != nil {
				t.Fatal(err)
			}
			for _, tr := range rep.Tasks {
				want := StatusDone
				if tr.Task == TaskOutbox {
					want = StatusSkipped // no republisher in tests
				}
				if tr.Status != want {
					t.Fatalf("task %s: %s (%s), want %s", tr.Task, tr.Status, tr.Error, want)
				}
			}
			// 120 test values and the audit checkpoint-signing key.
			if rep.Count(TaskReencrypt, "resealed") != 121 || rep.Count(TaskRetention, "audit_events_deleted") != 3 ||
				rep.Count(TaskPurge, "one_time_links") != 3 || rep.Count(TaskDataKeys, "rotated") != 1 ||
				rep.Count(TaskRetention, "webhook_events") != 1 {
				t.Fatalf("first run did not do its work: %+v", rep.Tasks)
			}
			for _, tr := range rep.Tasks {
				for k := range tr.Counts {
					if logging.SensitiveKey(k) {
						t.Errorf("count %s of task %s would be redacted from the logged report", k, tr.Task)
					}
				}
			}
			before := f.snapshot(t)
			if _, err := r.Run(ctx, Request{ID: "m1", Message: schedule()}); !errors.Is(err, ErrDuplicate) {
				t.Fatalf("same message again: err = %v, want ErrDuplicate", err)
			}
			if got := f.snapshot(t); got != before {
				t.Fatalf("redelivered message changed state:\nbefore\n%s\nafter\n%s", before, got)
			}
			rep2, err := r.Run(ctx, Request{ID: "m2", Message: schedule()})
			if err != nil {
				t.Fatal(err)
			}
			if got := f.snapshot(t); got != before {
				t.Fatalf("second scheduled run changed state:\nbefore\n%s\nafter\n%s", before, got)
			}
			if rep2.KMSCalls > 2 {
				t.Fatalf("idle run made %d KMS calls, want at most 2 (version probe, checkpoint key)", rep2.KMSCalls)
			}
		})
	}
}

// A run that crashed holding the lease: the redelivered message is
// acknowledged while the lease holds, another message is refused as busy
// (Pub/Sub retries it), and once the lease expires the next run resumes
// the crashed one before its own.
//
// Controls: CRED-8, APP-6
func TestCrashedRunResumedByNextRun(t *testing.T) {
	f := newFixture(t, "sqlite")
	f.sealAcrossKeys(t, 200, 2)
	ctx := context.Background()
	crashing := f.rotator(t, testConfig())
	crashing.afterBatch = func(i int) error {
		if i == 1 {
			return errInjected
		}
		return nil
	}
	r := f.rotator(t, testConfig())
	if _, err := crashing.Run(ctx, Request{ID: "pubsub:1", Message: exposure(TaskDataKeys, TaskReencrypt)}); !errors.Is(err, errInjected) {
		t.Fatalf("crash: %v", err)
	}
	// The crashed instance still holds the lease.
	if _, err := f.Store.AcquireLease(ctx, store.Lease{Name: leaseName, Holder: "dead", RunID: "pubsub:1",
		Expires: f.Clock.Now().Add(10 * time.Minute)}, f.Clock.Now()); err != nil {
		t.Fatal(err)
	}
	if err := r.HandleEvent(ctx, pubsubEvent(t, "1", f.Clock.Now(), `{"reason":"schedule"}`)); err != nil {
		t.Fatalf("redelivery while the lease holds: %v, want acknowledged", err)
	}
	if err := r.HandleEvent(ctx, pubsubEvent(t, "2", f.Clock.Now(), `{"reason":"schedule","tasks":["purge"]}`)); !errors.Is(err, ErrBusy) {
		t.Fatalf("other message while the lease holds: %v, want ErrBusy (retry)", err)
	}
	f.Clock.Advance(11 * time.Minute)
	if err := r.HandleEvent(ctx, pubsubEvent(t, "2", f.Clock.Now(), `{"reason":"schedule","tasks":["purge"]}`)); err != nil {
		t.Fatal(err)
	}
	runs, err := f.Store.RotationRuns(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, run := range runs {
		if run.FinishedAt.IsZero() {
			t.Fatalf("run %s left unfinished", run.ID)
		}
	}
	f.checkAll(t)
}

// A run whose lease is taken over (it could not renew in time) stops.
//
// Controls: CRED-8
func TestRunStopsWhenLeaseLost(t *testing.T) {
	f := newFixture(t, "sqlite")
	f.sealAcrossKeys(t, 200, 2)
	r := f.rotator(t, testConfig())
	r.renewEvery = 5 * time.Millisecond
	r.afterBatch = func(i int) error {
		if i == 0 {
			f.Clock.Advance(time.Hour) // the lease expired
			if _, err := f.Store.AcquireLease(context.Background(), store.Lease{Name: leaseName, Holder: "other", RunID: "x",
				Expires: f.Clock.Now().Add(time.Hour)}, f.Clock.Now()); err != nil {
				t.Error(err)
			}
			time.Sleep(100 * time.Millisecond) // a renewal finds it lost
		}
		return nil
	}
	_, err := r.Run(context.Background(), Request{ID: "m", Message: exposure(TaskDataKeys, TaskReencrypt)})
	if !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("err = %v, want ErrLeaseLost", err)
	}
}

// A dry run reports what it would do and changes nothing.
//
// Controls: CRED-8
func TestDryRunChangesNothing(t *testing.T) {
	f := newFixture(t, "sqlite")
	f.seedEverything(t)
	before := f.snapshot(t)
	m := schedule()
	m.DryRun = true
	rep, err := f.rotator(t, testConfig()).Run(context.Background(), Request{ID: "dry", Message: m})
	if err != nil {
		t.Fatal(err)
	}
	if got := f.snapshot(t); got != before {
		t.Fatalf("dry run changed state:\nbefore\n%s\nafter\n%s", before, got)
	}
	if rep.Count(TaskDataKeys, "would_rotate") != 1 || rep.Count(TaskReencrypt, "would_reseal") != 60 ||
		rep.Count(TaskRetention, "audit_events_would_delete") != 3 || rep.Count(TaskSigningKeys, "would_rotate") != 1 {
		t.Fatalf("dry-run report: %+v", rep.Tasks)
	}
}

// pubsubEvent builds the CloudEvent Pub/Sub delivers for message id with
// data.
func pubsubEvent(t testing.TB, id string, published time.Time, data string) event.Event {
	t.Helper()
	e := event.New()
	e.SetID(id)
	e.SetType("google.cloud.pubsub.topic.v1.messagePublished")
	e.SetSource("//pubsub.googleapis.com/projects/p/topics/rotate")
	body, _ := json.Marshal(map[string]any{
		"message":      map[string]any{"data": []byte(data), "messageId": id, "publishTime": published.Format(time.RFC3339Nano)},
		"subscription": "projects/p/subscriptions/rotate",
	})
	if err := e.SetData(event.ApplicationJSON, body); err != nil {
		t.Fatal(err)
	}
	return e
}

// Malformed and stale messages are acknowledged (retrying cannot help),
// logged and audited; a good one runs and is audited.
//
// Controls: AUDIT-1, APP-6
func TestHandleEventAcknowledgesBadMessages(t *testing.T) {
	f := newFixture(t, "sqlite")
	r := f.rotator(t, testConfig())
	now := f.Clock.Now()
	for _, tc := range []struct {
		name, data string
		published  time.Time
		action     string
		outcome    store.Outcome
	}{
		{"not JSON", `nope`, now, "rotate.message_rejected", store.OutcomeFailure},
		{"unknown field", `{"reason":"schedule","force":true}`, now, "rotate.message_rejected", store.OutcomeFailure},
		{"unknown task", `{"reason":"schedule","tasks":["everything"]}`, now, "rotate.message_rejected", store.OutcomeFailure},
		{"bad reason", `{"reason":"because"}`, now, "rotate.message_rejected", store.OutcomeFailure},
		{"too old", `{"reason":"schedule"}`, now.Add(-7 * time.Hour), "rotate.message_dropped", store.OutcomeFailure},
		{"good", `{"reason":"schedule","tasks":["purge"]}`, now.Add(-time.Minute), "rotate.run", store.OutcomeSuccess},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := r.HandleEvent(context.Background(), pubsubEvent(t, tc.name, tc.published, tc.data)); err != nil {
				t.Fatalf("HandleEvent = %v, want nil (acknowledged)", err)
			}
			evs, err := f.Store.AuditEvents(context.Background(), 0, 1000)
			if err != nil || len(evs) == 0 {
				t.Fatal(err)
			}
			last := evs[len(evs)-1]
			if last.Action != tc.action || last.Outcome != tc.outcome {
				t.Fatalf("last audit event %s/%s, want %s/%s", last.Action, last.Outcome, tc.action, tc.outcome)
			}
		})
	}
}

// A task failure is returned so Pub/Sub redelivers; the failure is
// audited, and the store being down is not waved through.
//
// Controls: APP-5, AUDIT-1
func TestHandleEventRetriesFailures(t *testing.T) {
	f := newFixture(t, "sqlite")
	r := f.rotator(t, testConfig(), WithPurgers(PurgeFunc("broken", func(context.Context, time.Time) (int64, error) {
		return 0, errInjected
	})))
	err := r.HandleEvent(context.Background(), pubsubEvent(t, "9", f.Clock.Now(), `{"reason":"schedule","tasks":["purge"]}`))
	if !errors.Is(err, errInjected) {
		t.Fatalf("HandleEvent = %v, want the task error (redeliver)", err)
	}
	evs, _ := f.Store.AuditEvents(context.Background(), 0, 100)
	if last := evs[len(evs)-1]; last.Action != "rotate.run" || last.Outcome != store.OutcomeFailure {
		t.Fatalf("last audit event %s/%s, want rotate.run/failure", last.Action, last.Outcome)
	}
}

// A run that keeps failing is retried by later runs, which still do their
// own work, and is abandoned (and audited) after maxResumes attempts.
//
// Controls: AUDIT-1, APP-6
func TestFailingRunAbandoned(t *testing.T) {
	f := newFixture(t, "sqlite")
	r := f.rotator(t, testConfig(), WithPurgers(PurgeFunc("broken", func(context.Context, time.Time) (int64, error) {
		return 0, errInjected
	})))
	ctx := context.Background()
	if _, err := r.Run(ctx, Request{ID: "a", Message: schedule(TaskPurge)}); !errors.Is(err, errInjected) {
		t.Fatal(err)
	}
	for i := range maxResumes + 1 {
		if _, err := r.Run(ctx, Request{ID: fmt.Sprintf("b%d", i), Message: schedule(TaskDataKeys)}); err != nil {
			t.Fatalf("run b%d blocked by the failing run: %v", i, err)
		}
	}
	runs, _ := f.Store.RotationRuns(ctx, 20)
	for _, run := range runs {
		if run.FinishedAt.IsZero() {
			t.Fatalf("run %s still unfinished", run.ID)
		}
	}
	evs, _ := f.Store.AuditEvents(ctx, 0, 100)
	abandoned := 0
	for _, e := range evs {
		if e.Action == "rotate.run_abandoned" && e.Target == "a" {
			abandoned++
		}
	}
	if abandoned != 1 {
		t.Fatalf("%d abandon events for run a, want 1", abandoned)
	}
}

// An events request (every minute from Cloud Scheduler) sends due events
// while a long rotation run holds the lease, which a scheduled request
// cannot: it takes no lease, stores no run and audits nothing. A failure
// to send is acknowledged, not redelivered: the rows stay due and the
// next minute's request tries again.
//
// Controls: APP-5
func TestEventsRequestBesideARun(t *testing.T) {
	f := newFixture(t, "sqlite")
	sent, fail := 0, false
	r := f.rotator(t, testConfig(), WithOutbox(PurgeFunc("republished", func(context.Context, time.Time) (int64, error) {
		if fail {
			return 0, errInjected
		}
		sent++
		return 3, nil
	})))
	ctx, now := context.Background(), f.Clock.Now()
	if _, err := f.Store.AcquireLease(ctx, store.Lease{Name: leaseName, Holder: "other", RunID: "long-run", Expires: now.Add(time.Hour)}, now); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Run(ctx, Request{ID: "s", Message: schedule(TaskOutbox)}); !errors.Is(err, ErrBusy) {
		t.Fatalf("scheduled run beside another: %v, want ErrBusy", err)
	}
	before, _ := f.Store.AuditEvents(ctx, 0, 1000)
	if err := r.HandleEvent(ctx, pubsubEvent(t, "ev-1", now, `{"reason":"events","tasks":["outbox"]}`)); err != nil || sent != 1 {
		t.Fatalf("events request: %v, outbox task ran %d times; want nil, 1", err, sent)
	}
	fail = true
	if err := r.HandleEvent(ctx, pubsubEvent(t, "ev-2", now, `{"reason":"events"}`)); err != nil {
		t.Fatalf("failed events request: %v, want nil (acknowledged)", err)
	}
	fail = false
	rep, err := r.Run(ctx, Request{ID: "ev-3", Message: Message{Reason: ReasonEvents}})
	if err != nil || len(rep.Tasks) != 1 || rep.Tasks[0].Task != TaskOutbox || rep.Tasks[0].Status != StatusDone ||
		rep.Tasks[0].Counts["republished"] != 3 {
		t.Fatalf("events run report %+v, %v", rep, err)
	}
	after, _ := f.Store.AuditEvents(ctx, 0, 1000)
	runs, err := f.Store.RotationRuns(ctx, 100)
	if err != nil || len(after) != len(before) || len(runs) != 0 {
		t.Fatalf("events requests wrote %d audit events and %d runs (%v), want none", len(after)-len(before), len(runs), err)
	}
}
