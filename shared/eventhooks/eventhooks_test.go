package eventhooks_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/gatehouse-dev/gatehouse/shared/bootstrap/bootstraptest"
	"github.com/gatehouse-dev/gatehouse/shared/eventhooks"
	"github.com/gatehouse-dev/gatehouse/shared/events"
	"github.com/gatehouse-dev/gatehouse/shared/logging"
	"github.com/gatehouse-dev/gatehouse/shared/outbound"
	"github.com/gatehouse-dev/gatehouse/shared/outbound/outboundtest"
	"github.com/gatehouse-dev/gatehouse/shared/store"
)

var secret = "whsec_" + base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))

// clock starts at the real time, so that the receiver's Standard Webhooks
// verification (which checks webhook-timestamp against the wall clock)
// accepts what the deliverer signs.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Now().UTC().Truncate(time.Millisecond)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// receiver is the SaaS's endpoint: it verifies every request with the
// Standard Webhooks reference library and answers fail(n) for the n-th
// request (0 for the first), 204 when fail returns 0.
type receiver struct {
	t      *testing.T
	srv    *httptest.Server
	mu     sync.Mutex
	calls  int
	byID   map[string]int // accepted (2xx) deliveries per webhook-id
	bodies map[string]string
	fail   func(n int) int
}

func newReceiver(t *testing.T, fail func(n int) int) *receiver {
	r := &receiver{t: t, byID: map[string]int{}, bodies: map[string]string{}, fail: fail}
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	r.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		if err := wh.Verify(body, req.Header); err != nil {
			t.Errorf("signature: %v", err)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var ce struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(body, &ce); err != nil || ce.ID != req.Header.Get("webhook-id") ||
			req.Header.Get("Content-Type") != "application/json" || req.Method != http.MethodPost {
			t.Errorf("%s %s id %q, webhook-id %q, content-type %q", req.Method, body, ce.ID, req.Header.Get("webhook-id"), req.Header.Get("Content-Type"))
		}
		r.mu.Lock()
		n := r.calls
		r.calls++
		status := 0
		if r.fail != nil {
			status = r.fail(n)
		}
		if status == 0 {
			status = http.StatusNoContent
			r.byID[ce.ID]++
			r.bodies[ce.ID] = string(body)
		}
		r.mu.Unlock()
		w.WriteHeader(status)
		_, _ = io.WriteString(w, strings.Repeat("x", 4096))
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) Calls() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls
}

type fixture struct {
	env     *bootstraptest.Env
	clock   *clock
	emitter *events.Emitter
	hooks   *eventhooks.Deliverer
	rcv     *receiver
}

// setup returns a store with an emitter delivering to a fresh receiver,
// and a deliverer whose backoff is zero (every retry due at once), so
// tests drive attempts by running it, without sleeping.
func setup(t *testing.T, s store.Store, fail func(n int) int, o eventhooks.Options) *fixture {
	t.Helper()
	f := &fixture{env: bootstraptest.New(t, s), clock: newClock(), rcv: newReceiver(t, fail)}
	f.emitter = &events.Emitter{Webhooks: []events.Endpoint{{URL: f.rcv.srv.URL + "/hooks"}}, Env: "dev", Now: f.clock.Now}
	o.Endpoints = []string{f.rcv.srv.URL + "/hooks"}
	o.Now = f.clock.Now
	if o.Jitter == nil {
		o.Jitter = func(int64) int64 { return 0 }
	}
	f.hooks = f.deliverer(t, outboundtest.Client(t, f.rcv.srv), o)
	return f
}

// outage is a receiver's fail function: status until healthy is set,
// then success.
func outage(healthy *atomic.Bool, status int) func(int) int {
	return func(int) int {
		if healthy.Load() {
			return 0
		}
		return status
	}
}

func (f *fixture) deliverer(t *testing.T, c eventhooks.Doer, o eventhooks.Options) *eventhooks.Deliverer {
	t.Helper()
	d, err := eventhooks.New(f.env.Store, c, logging.NewSecret(secret), f.env.Logger, o)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// emit commits a user.created event for userID and returns its delivery.
func (f *fixture) emit(t *testing.T, userID string) store.EventDelivery {
	t.Helper()
	ctx := context.Background()
	err := f.env.Store.Tx(ctx, func(tx store.Store) error {
		return f.emitter.Emit(ctx, tx, events.User(events.UserCreated, events.UserData{UserID: userID, By: "user"}))
	})
	if err != nil {
		t.Fatal(err)
	}
	all, err := f.env.Store.ListEventDeliveries(ctx, "", "", 1000)
	if err != nil || len(all) == 0 {
		t.Fatalf("no delivery: %v", err)
	}
	return all[len(all)-1]
}

func (f *fixture) run(t *testing.T) eventhooks.Report {
	t.Helper()
	rep, err := f.hooks.Run(context.Background(), 100)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func (f *fixture) delivery(t *testing.T, id string) store.EventDelivery {
	t.Helper()
	d, err := f.env.Store.EventDelivery(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// A committed event reaches the endpoint once, as a Standard Webhook the
// reference library verifies, whose webhook-id is the event id and whose
// body is the CloudEvents envelope; emission needs no Pub/Sub topic.
func TestDeliverSigned(t *testing.T) {
	for _, b := range bootstraptest.Backends {
		t.Run(b.Name, func(t *testing.T) {
			f := setup(t, b.Open(t), nil, eventhooks.Options{})
			d := f.emit(t, "u_1")
			if rep := f.run(t); rep.Delivered != 1 {
				t.Fatalf("report %+v", rep)
			}
			got := f.delivery(t, d.ID)
			if got.State != store.DeliveryDelivered || got.Attempts != 1 || got.LastStatus != 204 || got.LastError != "" {
				t.Fatalf("delivery %+v", got)
			}
			if f.rcv.byID[d.EventID] != 1 || f.rcv.bodies[d.EventID] != d.Body || !strings.Contains(d.Body, `"type":"com.gatehouse.user.created.v1"`) {
				t.Fatalf("received %v %q", f.rcv.byID, f.rcv.bodies[d.EventID])
			}
			if due, _ := f.env.Store.DueOutbox(context.Background(), f.clock.Now(), 10); len(due) != 0 {
				t.Fatalf("outbox written without a topic: %+v", due)
			}
			if rep := f.run(t); rep != (eventhooks.Report{}) || f.rcv.Calls() != 1 {
				t.Fatalf("second run %+v, %d calls", rep, f.rcv.Calls())
			}
		})
	}
}

// A receiver that fails three times and then succeeds gets the event
// exactly once more: four attempts, one accepted, then nothing.
func TestRetryUntilDelivered(t *testing.T) {
	for _, b := range bootstraptest.Backends {
		t.Run(b.Name, func(t *testing.T) {
			fail := func(n int) int { return []int{500, 503, 429, 0}[min(n, 3)] }
			f := setup(t, b.Open(t), fail, eventhooks.Options{})
			d := f.emit(t, "u_1")
			for i, want := range []store.DeliveryState{store.DeliveryPending, store.DeliveryPending, store.DeliveryPending, store.DeliveryDelivered} {
				f.run(t)
				if got := f.delivery(t, d.ID); got.State != want || got.Attempts != i+1 {
					t.Fatalf("after run %d: %+v", i+1, got)
				}
			}
			f.run(t)
			got := f.delivery(t, d.ID)
			if f.rcv.Calls() != 4 || f.rcv.byID[d.EventID] != 1 || got.LastStatus != 204 || got.LastError != "" || got.DeliveredAt.IsZero() {
				t.Fatalf("%d calls, accepted %d; delivery %+v", f.rcv.Calls(), f.rcv.byID[d.EventID], got)
			}
		})
	}
}

// An endpoint that is down costs a run GiveUpAfter failed attempts, not
// one per delivery: the run leaves its other deliveries untried (their
// attempts not counted), and a later run, with the endpoint back, sends
// them all. (Before, each delivery waited out its timeout in every run,
// holding the rotate function every minute.)
func TestDownEndpointDefersTheRest(t *testing.T) {
	for _, b := range bootstraptest.Backends {
		t.Run(b.Name, func(t *testing.T) {
			var healthy atomic.Bool
			f := setup(t, b.Open(t), outage(&healthy, http.StatusServiceUnavailable), eventhooks.Options{Workers: 1})
			for i := range 10 {
				f.emit(t, fmt.Sprintf("u_%d", i))
			}
			rep := f.run(t)
			if rep.Retrying != eventhooks.DefaultGiveUpAfter || rep.Deferred != 10-eventhooks.DefaultGiveUpAfter || f.rcv.Calls() != eventhooks.DefaultGiveUpAfter {
				t.Fatalf("run with the endpoint down: %+v, %d calls", rep, f.rcv.Calls())
			}
			all, err := f.env.Store.ListEventDeliveries(context.Background(), "", "", 1000)
			if err != nil || len(all) != 10 {
				t.Fatalf("%d deliveries, %v", len(all), err)
			}
			attempted := 0
			for _, d := range all {
				if d.State != store.DeliveryPending || d.Attempts > 1 {
					t.Fatalf("delivery %+v", d)
				} else if d.Attempts == 1 {
					attempted++
				}
			}
			if attempted != eventhooks.DefaultGiveUpAfter {
				t.Fatalf("%d deliveries have an attempt, want %d", attempted, eventhooks.DefaultGiveUpAfter)
			}
			healthy.Store(true)
			if rep := f.run(t); rep.Delivered != 10 || rep.Deferred != 0 {
				t.Fatalf("run with the endpoint back: %+v", rep)
			}
		})
	}
}

// A receiver that always fails: the delivery is retried with backoff,
// ends dead after MaxAttempts, is no longer attempted, shows in the dead
// list, and an operator's redelivery sends it again.
func TestDeadThenRedeliver(t *testing.T) {
	for _, b := range bootstraptest.Backends {
		t.Run(b.Name, func(t *testing.T) {
			var healthy atomic.Bool
			full := func(n int64) int64 { return n - 1 } // the top of each jitter range
			f := setup(t, b.Open(t), outage(&healthy, http.StatusBadGateway), eventhooks.Options{MaxAttempts: 3, Jitter: full})
			d := f.emit(t, "u_1")
			ctx := context.Background()
			for i, wait := range []time.Duration{30 * time.Second, time.Minute} {
				start := f.clock.Now()
				f.run(t)
				got := f.delivery(t, d.ID)
				if got.State != store.DeliveryPending || !got.NextAttemptAt.Equal(start.Add(wait)) || got.LastStatus != 502 ||
					!strings.Contains(got.LastError, "502") {
					t.Fatalf("after attempt %d: %+v, want next attempt %s later", i+1, got, wait)
				}
				f.run(t) // not due yet
				if f.rcv.Calls() != i+1 {
					t.Fatalf("attempted before its backoff: %d calls", f.rcv.Calls())
				}
				f.clock.Advance(wait)
			}
			if rep := f.run(t); rep.Dead != 1 {
				t.Fatalf("third attempt: %+v", rep)
			}
			f.clock.Advance(time.Minute) // within the receiver's 5-minute timestamp tolerance
			f.run(t)
			if f.rcv.Calls() != 3 {
				t.Fatalf("dead delivery attempted: %d calls", f.rcv.Calls())
			}
			dead, err := f.env.Store.ListEventDeliveries(ctx, store.DeliveryDead, "", 10)
			if err != nil || len(dead) != 1 || dead[0].ID != d.ID || dead[0].Attempts != 3 {
				t.Fatalf("dead list %+v, %v", dead, err)
			}
			if _, err := f.env.Store.RedeliverEventDelivery(ctx, d.ID, f.clock.Now()); err != nil {
				t.Fatal(err)
			}
			healthy.Store(true)
			if rep := f.run(t); rep.Delivered != 1 || f.rcv.byID[d.EventID] != 1 || f.rcv.Calls() != 4 {
				t.Fatalf("redelivery %+v, %d calls", rep, f.rcv.Calls())
			}
		})
	}
}

// A change that rolls back leaves no delivery, and nothing is sent.
func TestRolledBackChangeDeliversNothing(t *testing.T) {
	for _, b := range bootstraptest.Backends {
		t.Run(b.Name, func(t *testing.T) {
			f := setup(t, b.Open(t), nil, eventhooks.Options{})
			ctx := context.Background()
			refused := errors.New("change refused")
			err := f.env.Store.Tx(ctx, func(tx store.Store) error {
				if err := tx.CreateUser(ctx, store.User{ID: "u_1", Email: "a@example.com", CreatedAt: f.clock.Now(), UpdatedAt: f.clock.Now()}); err != nil {
					return err
				}
				if err := f.emitter.Emit(ctx, tx, events.User(events.UserCreated, events.UserData{UserID: "u_1", By: "user"})); err != nil {
					return err
				}
				return refused
			})
			if !errors.Is(err, refused) {
				t.Fatal(err)
			}
			if all, err := f.env.Store.ListEventDeliveries(ctx, "", "", 10); err != nil || len(all) != 0 {
				t.Fatalf("deliveries %+v, %v", all, err)
			}
			f.run(t)
			if f.rcv.Calls() != 0 {
				t.Fatalf("%d calls", f.rcv.Calls())
			}
		})
	}
}

// Many deliverers running at once against PostgreSQL deliver each event
// exactly once: every attempt is leased by one deliverer only.
func TestConcurrentDeliverersSendEachOnce(t *testing.T) {
	f := setup(t, bootstraptest.Postgres(t), nil, eventhooks.Options{Workers: 4})
	const n, deliverers = 40, 8
	for i := range n {
		f.emit(t, fmt.Sprintf("u_%d", i))
	}
	var wg sync.WaitGroup
	for range deliverers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 3 {
				if _, err := f.hooks.Run(context.Background(), n); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	if len(f.rcv.byID) != n || f.rcv.Calls() != n {
		t.Fatalf("%d events received in %d calls, want %d", len(f.rcv.byID), f.rcv.Calls(), n)
	}
	for id, c := range f.rcv.byID {
		if c != 1 {
			t.Fatalf("%s delivered %d times", id, c)
		}
	}
	if due, _ := f.env.Store.DueEventDeliveries(context.Background(), f.clock.Now().Add(time.Hour), 100); len(due) != 0 {
		t.Fatalf("%d deliveries still due", len(due))
	}
}

// An endpoint on a private or metadata address is refused by the
// production outbound client before any connection: the attempt fails,
// is recorded without the URL, and is retried, never sent.
//
// Controls: APP-7
func TestPrivateEndpointRefused(t *testing.T) {
	for _, target := range []string{"https://169.254.169.254/computeMetadata/v1/?token=abc", "https://10.0.0.7/hooks", "https://127.0.0.1:1/hooks"} {
		t.Run(target, func(t *testing.T) {
			f := setup(t, bootstraptest.SQLite(t), nil, eventhooks.Options{})
			f.emitter.Webhooks = []events.Endpoint{{URL: target}}
			hooks := f.deliverer(t, outbound.New(outbound.Options{Timeout: 2 * time.Second}), eventhooks.Options{
				Endpoints: []string{target}, Now: f.clock.Now, Jitter: func(int64) int64 { return 0 }})
			d := f.emit(t, "u_1")
			rep, err := hooks.Run(context.Background(), 10)
			if err != nil || rep.Retrying != 1 {
				t.Fatalf("report %+v, %v", rep, err)
			}
			got := f.delivery(t, d.ID)
			if got.State != store.DeliveryPending || got.LastStatus != 0 || !strings.Contains(got.LastError, "outbound: refused to connect") ||
				strings.Contains(got.LastError, "token=abc") || strings.Contains(got.LastError, "computeMetadata") {
				t.Fatalf("delivery %+v", got)
			}
		})
	}
}

// A delivery to an endpoint since removed from the configuration is dead
// at once, never sent.
func TestRemovedEndpointIsDead(t *testing.T) {
	f := setup(t, bootstraptest.SQLite(t), nil, eventhooks.Options{})
	d := f.emit(t, "u_1")
	hooks := f.deliverer(t, outboundtest.Client(t, f.rcv.srv), eventhooks.Options{Endpoints: []string{"https://elsewhere.example/"}, Now: f.clock.Now})
	if rep, err := hooks.Run(context.Background(), 10); err != nil || rep.Dead != 1 {
		t.Fatalf("report %+v, %v", rep, err)
	}
	if got := f.delivery(t, d.ID); got.State != store.DeliveryDead || f.rcv.Calls() != 0 {
		t.Fatalf("delivery %+v, %d calls", got, f.rcv.Calls())
	}
}

// An endpoint filtered to some types gets only those.
func TestEndpointTypes(t *testing.T) {
	f := setup(t, bootstraptest.SQLite(t), nil, eventhooks.Options{})
	f.emitter.Webhooks[0].Types = []events.Type{events.MFAChanged}
	ctx := context.Background()
	err := f.env.Store.Tx(ctx, func(tx store.Store) error {
		if err := f.emitter.Emit(ctx, tx, events.User(events.UserCreated, events.UserData{UserID: "u_1"})); err != nil {
			return err
		}
		return f.emitter.Emit(ctx, tx, events.MFA("u_1", "reset"))
	})
	if err != nil {
		t.Fatal(err)
	}
	all, err := f.env.Store.ListEventDeliveries(ctx, "", "", 10)
	if err != nil || len(all) != 1 || all[0].EventType != string(events.MFAChanged) {
		t.Fatalf("deliveries %+v, %v", all, err)
	}
}

// Backoff is full jitter under BaseDelay·2^(n-1), capped at MaxDelay.
func TestBackoff(t *testing.T) {
	var seen int64
	top := func(n int64) int64 { seen = n; return n - 1 }
	d, err := eventhooks.New(nil, http.DefaultClient, logging.NewSecret(secret), nil,
		eventhooks.Options{BaseDelay: 30 * time.Second, MaxDelay: time.Hour, Jitter: top})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		n    int
		want time.Duration
	}{{1, 30 * time.Second}, {2, time.Minute}, {4, 4 * time.Minute}, {7, 32 * time.Minute}, {8, time.Hour}, {70, time.Hour}} {
		if got := d.Backoff(tc.n); got != tc.want || seen != int64(tc.want)+1 {
			t.Errorf("Backoff(%d) = %s (range %d), want %s", tc.n, got, seen, tc.want)
		}
	}
}

// Only whsec_ secrets of 24 to 64 bytes are accepted.
func TestParseSecret(t *testing.T) {
	for _, tc := range []struct {
		name   string
		secret string
		ok     bool
	}{
		{"32 bytes", secret, true},
		{"unpadded", "whsec_" + base64.RawStdEncoding.EncodeToString(make([]byte, 32)), true},
		{"no prefix", strings.TrimPrefix(secret, "whsec_"), false},
		{"short", "whsec_" + base64.StdEncoding.EncodeToString(make([]byte, 16)), false},
		{"long", "whsec_" + base64.StdEncoding.EncodeToString(make([]byte, 65)), false},
		{"not base64", "whsec_!!!!", false},
		{"empty", "", false},
	} {
		if _, err := eventhooks.ParseSecret(tc.secret); (err == nil) != tc.ok {
			t.Errorf("%s: err = %v", tc.name, err)
		}
	}
}

// In dev a plain-http receiver on the loopback interface is reached; the
// same client still refuses a private address.
func TestDevClientReachesLoopbackOnly(t *testing.T) {
	f := setup(t, bootstraptest.SQLite(t), nil, eventhooks.Options{})
	plain := httptest.NewServer(f.rcv.srv.Config.Handler)
	t.Cleanup(plain.Close)
	local := strings.Replace(plain.URL, "127.0.0.1", "localhost", 1) + "/hooks"
	private := "http://localhost.10.0.0.7.nip.io/hooks"
	f.emitter.Webhooks = []events.Endpoint{{URL: local}, {URL: "https://10.0.0.7/hooks"}, {URL: private}}
	client := eventhooks.DevClient(outbound.New(outbound.Options{Timeout: 2 * time.Second}), 2*time.Second)
	hooks := f.deliverer(t, client, eventhooks.Options{Endpoints: []string{local, "https://10.0.0.7/hooks", private},
		Now: f.clock.Now, Jitter: func(int64) int64 { return 0 }})
	f.emit(t, "u_1")
	rep, err := hooks.Run(context.Background(), 10)
	if err != nil || rep.Delivered != 1 || rep.Retrying != 2 || f.rcv.Calls() != 1 {
		t.Fatalf("report %+v, %v; %d calls", rep, err, f.rcv.Calls())
	}
}

// What an endpoint writes is not kept: a refusal is recorded by its
// status code, never by the endpoint's own reason phrase or body.
func TestRefusalKeepsStatusOnly(t *testing.T) {
	f := setup(t, bootstraptest.SQLite(t), nil, eventhooks.Options{})
	hostile := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		_, _ = buf.WriteString("HTTP/1.1 503 " + strings.Repeat("injected ", 200) + "\r\nContent-Length: 4\r\nConnection: close\r\n\r\nbody")
		_ = buf.Flush()
	}))
	t.Cleanup(hostile.Close)
	endpoint := hostile.URL + "/hooks"
	f.emitter.Webhooks = []events.Endpoint{{URL: endpoint}}
	hooks := f.deliverer(t, outboundtest.Client(t, hostile), eventhooks.Options{Endpoints: []string{endpoint}, Now: f.clock.Now})
	d := f.emit(t, "u_1")
	if rep, err := hooks.Run(context.Background(), 10); err != nil || rep.Retrying != 1 {
		t.Fatalf("report %+v, %v", rep, err)
	}
	got := f.delivery(t, d.ID)
	if got.LastStatus != 503 || got.LastError != "endpoint answered 503 Service Unavailable" {
		t.Fatalf("delivery %+v", got)
	}
}
