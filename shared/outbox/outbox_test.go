package outbox

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/gatehouse-dev/gatehouse/shared/bootstrap/bootstraptest"
	"github.com/gatehouse-dev/gatehouse/shared/store"
)

const testTopic = "projects/gatehouse-test/topics/billing"

// newPubSub starts a pstest server with testTopic and returns a sender on it.
func newPubSub(t *testing.T) (*PubSub, *pstest.Server) {
	t.Helper()
	srv := pstest.NewServer()
	t.Cleanup(func() { _ = srv.Close() })
	if _, err := srv.GServer.CreateTopic(context.Background(), &pubsubpb.Topic{Name: testTopic}); err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient(srv.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewPubSub(context.Background(), "gatehouse-test", option.WithGRPCConn(conn))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p, srv
}

// enqueue writes n messages through r, as a committed transaction would.
func enqueue(t *testing.T, s store.Store, r *Relay, topic string, n int) []store.OutboxMessage {
	t.Helper()
	var out []store.OutboxMessage
	for i := range n {
		m := r.Message(fmt.Sprintf("stripe/evt_%d", i), topic, fmt.Sprintf(`{"n":%d}`, i), map[string]string{"provider": "stripe"})
		if err := s.EnqueueOutbox(context.Background(), m); err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

func TestPublishAfterCommit(t *testing.T) {
	env := bootstraptest.New(t, bootstraptest.SQLite(t))
	p, srv := newPubSub(t)
	r := NewRelay(env.Store, p, env.Logger, Options{Now: env.Clock.Now})
	m := enqueue(t, env.Store, r, testTopic, 1)[0]
	if err := r.Publish(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	msgs := srv.Messages()
	if len(msgs) != 1 || string(msgs[0].Data) != `{"n":0}` || msgs[0].Attributes["message_id"] != "stripe/evt_0" ||
		msgs[0].Attributes["provider"] != "stripe" {
		t.Fatalf("published %+v", msgs)
	}
	stored, err := env.Store.OutboxMessage(context.Background(), m.ID)
	if err != nil || !stored.PublishedAt.Equal(env.Clock.Now()) {
		t.Fatalf("stored %+v, %v", stored, err)
	}
}

// failingSender fails every send.
type failingSender struct{}

func (failingSender) Send(context.Context, store.OutboxMessage) error {
	return errors.New("pubsub down")
}

// A message whose publish failed stays in the outbox and is published by
// the first sweep after its lease.
//
// Controls: APP-6
func TestSweepRepublishes(t *testing.T) {
	env := bootstraptest.New(t, bootstraptest.SQLite(t))
	ctx := context.Background()
	down := NewRelay(env.Store, failingSender{}, env.Logger, Options{Now: env.Clock.Now})
	m := enqueue(t, env.Store, down, testTopic, 1)[0]
	if err := down.Publish(ctx, m); err == nil {
		t.Fatal("Publish through a failing sender succeeded")
	}
	p, srv := newPubSub(t)
	up := NewRelay(env.Store, p, env.Logger, Options{Now: env.Clock.Now})
	if rep, err := up.Sweep(ctx, 10); err != nil || rep != (SweepReport{}) {
		t.Fatalf("sweep within the lease = %+v, %v; want nothing", rep, err)
	}
	env.Clock.Advance(DefaultLease)
	if rep, err := down.Sweep(ctx, 10); err != nil || rep.Failed != 1 {
		t.Fatalf("failing sweep = %+v, %v", rep, err)
	}
	env.Clock.Advance(DefaultLease)
	if rep, err := up.Sweep(ctx, 10); err != nil || rep.Published != 1 {
		t.Fatalf("sweep = %+v, %v; want 1 published", rep, err)
	}
	if n := len(srv.Messages()); n != 1 {
		t.Fatalf("%d messages on the server, want 1", n)
	}
	stored, _ := env.Store.OutboxMessage(ctx, m.ID)
	if stored.PublishedAt.IsZero() || stored.Attempts != 3 {
		t.Fatalf("stored %+v; want published after 3 attempts", stored)
	}
	if rep, _ := up.Sweep(ctx, 10); rep.Published != 0 {
		t.Fatalf("published message swept again")
	}
}

// blockingSender waits for its context on every send, as a publish to an
// unreachable Pub/Sub does, and counts the sends.
type blockingSender struct {
	mu    sync.Mutex
	sends int
}

func (b *blockingSender) Send(ctx context.Context, _ store.OutboxMessage) error {
	b.mu.Lock()
	b.sends++
	b.mu.Unlock()
	<-ctx.Done()
	return ctx.Err()
}

// With Pub/Sub unreachable a sweep gives up after three timed-out
// publishes in a row and leaves the other due messages untried for the
// next sweep (each publish bounded by the send timeout), instead of
// holding the rotate function for a timeout per message; a success in
// between resets the count. (Before, a sweep tried every due message, each
// waiting for the caller's context.)
//
// Controls: APP-6
func TestSweepGivesUpOnFailuresInARow(t *testing.T) {
	env := bootstraptest.New(t, bootstraptest.SQLite(t))
	ctx := context.Background()
	down := &blockingSender{}
	r := NewRelay(env.Store, down, env.Logger, Options{Now: env.Clock.Now, SendTimeout: 20 * time.Millisecond})
	enqueue(t, env.Store, r, testTopic, 10)
	env.Clock.Advance(DefaultLease)
	rep, err := r.Sweep(ctx, 100)
	if err != nil || rep.Failed != DefaultGiveUpAfter || rep.Deferred != 10-DefaultGiveUpAfter || rep.Published != 0 || down.sends != DefaultGiveUpAfter {
		t.Fatalf("sweep with Pub/Sub down = %+v (%d sends), %v; want %d failed, the rest deferred", rep, down.sends, err,
			DefaultGiveUpAfter)
	}
	// Failures that are not in a row do not stop a sweep.
	flaky := &flakySender{failEvery: 2}
	env.Clock.Advance(DefaultLease)
	rep, err = NewRelay(env.Store, flaky, env.Logger, Options{Now: env.Clock.Now}).Sweep(ctx, 100)
	if err != nil || rep.Deferred != 0 || rep.Published+rep.Failed != 10 {
		t.Fatalf("sweep with every other publish failing = %+v, %v; want all 10 tried", rep, err)
	}
}

// flakySender fails every failEvery-th send.
type flakySender struct {
	failEvery, n int
}

func (f *flakySender) Send(context.Context, store.OutboxMessage) error {
	f.n++
	if f.n%f.failEvery == 0 {
		return errors.New("pubsub hiccup")
	}
	return nil
}

// countingSender counts sends per message id.
type countingSender struct {
	mu    sync.Mutex
	count map[string]int
}

func (c *countingSender) Send(_ context.Context, m store.OutboxMessage) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.count[m.ID]++
	return nil
}

// Concurrent sweepers on PostgreSQL send each due message exactly once.
func TestConcurrentSweepers(t *testing.T) {
	env := bootstraptest.New(t, bootstraptest.Postgres(t))
	sender := &countingSender{count: map[string]int{}}
	r := NewRelay(env.Store, sender, env.Logger, Options{Now: env.Clock.Now})
	msgs := enqueue(t, env.Store, r, testTopic, 30)
	env.Clock.Advance(DefaultLease)
	var wg sync.WaitGroup
	for range 5 {
		wg.Go(func() {
			if _, err := r.Sweep(context.Background(), 100); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	for _, m := range msgs {
		if n := sender.count[m.ID]; n != 1 {
			t.Fatalf("message %s sent %d times, want 1", m.ID, n)
		}
	}
}

// Without a sender (development without a topic), or for a message with
// no topic, messages stay in the outbox.
func TestNoSenderKeepsMessages(t *testing.T) {
	env := bootstraptest.New(t, bootstraptest.SQLite(t))
	ctx := context.Background()
	r := NewRelay(env.Store, nil, env.Logger, Options{Now: env.Clock.Now})
	m := enqueue(t, env.Store, r, "", 1)[0]
	if err := r.Publish(ctx, m); err != nil {
		t.Fatal(err)
	}
	env.Clock.Advance(time.Hour)
	if rep, err := r.Sweep(ctx, 10); err != nil || rep != (SweepReport{}) {
		t.Fatalf("sweep = %+v, %v", rep, err)
	}
	if stored, err := env.Store.OutboxMessage(ctx, m.ID); err != nil || !stored.PublishedAt.IsZero() {
		t.Fatalf("stored %+v, %v", stored, err)
	}
}

// A publish to a topic that does not exist fails and leaves the message.
func TestPublishToMissingTopic(t *testing.T) {
	env := bootstraptest.New(t, bootstraptest.SQLite(t))
	p, _ := newPubSub(t)
	r := NewRelay(env.Store, p, env.Logger, Options{Now: env.Clock.Now})
	m := enqueue(t, env.Store, r, "projects/gatehouse-test/topics/missing", 1)[0]
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.Publish(ctx, m); err == nil {
		t.Fatal("publish to a missing topic succeeded")
	}
	if stored, _ := env.Store.OutboxMessage(context.Background(), m.ID); !stored.PublishedAt.IsZero() {
		t.Fatal("failed message marked published")
	}
}
