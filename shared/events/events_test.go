package events_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
	"github.com/cloudevents/sdk-go/v2/event"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/gatehouse-dev/gatehouse/shared/bootstrap/bootstraptest"
	"github.com/gatehouse-dev/gatehouse/shared/events"
	"github.com/gatehouse-dev/gatehouse/shared/outbox"
	"github.com/gatehouse-dev/gatehouse/shared/store"
)

const topic = "projects/gatehouse-test/topics/events"

var at = time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)

// Every constructor yields a valid CloudEvents 1.0 envelope whose type is
// versioned and whose data decodes back to the typed value.
func TestEnvelope(t *testing.T) {
	for _, tc := range []struct {
		name string
		ev   events.Event
		data string
	}{
		{"user.created", events.User(events.UserCreated, events.UserData{UserID: "u_1", Email: "a@example.com", By: "user"}), `{"user_id":"u_1","email":"a@example.com","by":"user"}`},
		{"session.revoked", events.SessionsRevoked(events.SessionRevokedData{UserID: "u_1", Reason: "admin_disabled"}), `{"user_id":"u_1","reason":"admin_disabled"}`},
		{"mfa.changed", events.MFA("u_1", "reset"), `{"user_id":"u_1","change":"reset"}`},
		{"identity.linked", events.Identity(events.IdentityLinked, "u_1", "google"), `{"user_id":"u_1","provider":"google"}`},
		{"org.member.role_changed", events.Member(events.OrgMemberRoleChanged, events.MemberData{OrgID: "o_1", UserID: "u_1", Role: "admin", PreviousRole: "viewer", By: "scim"}), `{"org_id":"o_1","user_id":"u_1","role":"admin","previous_role":"viewer","by":"scim"}`},
		{"connection.invalid", events.Connection(events.ConnectionInvalid, events.ConnectionData{ConnectionID: "c_1", OrgID: "o_1", Provider: "shopify", Reason: "decrypt_failed"}), `{"connection_id":"c_1","org_id":"o_1","provider":"shopify","reason":"decrypt_failed"}`},
		{"billing.subscription.updated", events.Subscription(events.SubscriptionData{OrgID: "o_1", SubscriptionID: "sub_1", Plan: "price_1", Status: "active", PeriodEnd: at}), `{"org_id":"o_1","subscription_id":"sub_1","plan":"price_1","status":"active","period_end":"2026-12-05T12:00:00Z"}`},
		{"key.rotated", events.Key("data", "dk_2"), `{"purpose":"data","key_id":"dk_2"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := events.Envelope("evt_1", at, "prod", tc.ev)
			if err != nil {
				t.Fatal(err)
			}
			var ce event.Event
			if err := json.Unmarshal(b, &ce); err != nil {
				t.Fatalf("%s is not a CloudEvent: %v", b, err)
			}
			if err := ce.Validate(); err != nil {
				t.Fatal(err)
			}
			want := "com.gatehouse." + tc.name + ".v1"
			if ce.SpecVersion() != "1.0" || ce.ID() != "evt_1" || ce.Type() != want || ce.Source() != events.Source ||
				!ce.Time().Equal(at) || ce.Subject() != tc.ev.Subject || ce.DataContentType() != "application/json" ||
				ce.Extensions()["gatehouseenv"] != "prod" || string(ce.Data()) != tc.data {
				t.Fatalf("envelope %s", b)
			}
		})
	}
}

// secretName matches a field name that could carry a credential.
var secretName = regexp.MustCompile(`(?i)secret|token|password|passwd|code|hash|otp|cookie|card`)

// No event's data has a field that could carry a secret, token, password
// or code: the schema itself rules them out.
func TestDataCarriesNoSecrets(t *testing.T) {
	for _, v := range []any{events.UserData{}, events.SessionRevokedData{}, events.MFAData{}, events.IdentityData{},
		events.MemberData{}, events.ConnectionData{}, events.SubscriptionData{}, events.KeyData{}} {
		rt := reflect.TypeOf(v)
		for i := range rt.NumField() {
			f := rt.Field(i)
			if secretName.MatchString(f.Name) || secretName.MatchString(f.Tag.Get("json")) {
				t.Errorf("%s.%s may carry a secret", rt.Name(), f.Name)
			}
		}
	}
	seen := map[events.Type]bool{}
	for _, ty := range events.Types {
		if seen[ty] || !regexp.MustCompile(`^com\.gatehouse\.[a-z_.]+\.v[0-9]+$`).MatchString(string(ty)) {
			t.Errorf("type %q repeated or unversioned", ty)
		}
		seen[ty] = true
	}
}

// outboxEvents returns the events due in s's outbox.
func outboxEvents(t *testing.T, s store.Store, now time.Time) []store.OutboxMessage {
	t.Helper()
	due, err := s.DueOutbox(context.Background(), now, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []store.OutboxMessage
	for _, m := range due {
		if strings.HasPrefix(m.ID, "event/") {
			out = append(out, m)
		}
	}
	return out
}

var errRollback = errors.New("change refused")

// An event is written in the transaction of its change: a change that
// rolls back leaves no event, and each committed change exactly one, with
// many writers at once, on SQLite and PostgreSQL.
func TestEmitCommitsWithChange(t *testing.T) {
	for _, b := range bootstraptest.Backends {
		t.Run(b.Name, func(t *testing.T) {
			env := bootstraptest.New(t, b.Open(t))
			ctx := context.Background()
			const n = 24
			var wg sync.WaitGroup
			errs := make([]error, n)
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs[i] = env.Store.Tx(ctx, func(tx store.Store) error {
						u := store.User{ID: fmt.Sprintf("u_%d", i), Email: fmt.Sprintf("u%d@example.com", i), CreatedAt: at, UpdatedAt: at}
						if err := tx.CreateUser(ctx, u); err != nil {
							return err
						}
						if err := env.Events.Emit(ctx, tx, events.User(events.UserCreated, events.UserData{UserID: u.ID, By: "user"})); err != nil {
							return err
						}
						if i%2 == 1 {
							return errRollback // after the outbox row is written
						}
						return nil
					})
				}()
			}
			wg.Wait()
			for i, err := range errs {
				if want := i%2 == 1; errors.Is(err, errRollback) != want || !want && err != nil {
					t.Fatalf("change %d: %v", i, err)
				}
			}
			got := map[string]int{}
			for _, m := range outboxEvents(t, env.Store, env.Clock.Now()) {
				var ce event.Event
				if err := json.Unmarshal([]byte(m.Data), &ce); err != nil || m.Topic != topic || m.Attributes["ce-type"] != string(events.UserCreated) {
					t.Fatalf("message %+v: %v", m, err)
				}
				got[ce.Subject()]++
			}
			for i := range n {
				_, err := env.Store.User(ctx, fmt.Sprintf("u_%d", i))
				if want := 1 - i%2; got[fmt.Sprintf("user/u_%d", i)] != want || (err == nil) != (want == 1) {
					t.Fatalf("change %d: %d events, user read %v", i, got[fmt.Sprintf("user/u_%d", i)], err)
				}
			}
		})
	}
}

// Without a topic nothing is written (development without Pub/Sub).
func TestEmitWithoutTopic(t *testing.T) {
	env := bootstraptest.New(t, bootstraptest.SQLite(t))
	off := &events.Emitter{Now: env.Clock.Now}
	if err := off.Emit(context.Background(), env.Store, events.MFA("u_1", "reset")); err != nil {
		t.Fatal(err)
	}
	if got := outboxEvents(t, env.Store, env.Clock.Now()); len(got) != 0 {
		t.Fatalf("wrote %+v", got)
	}
}

// newPubSub starts a pstest server with the events topic and returns a
// sender on it, through the real client library.
func newPubSub(t *testing.T) (*outbox.PubSub, *pstest.Server) {
	t.Helper()
	srv := pstest.NewServer()
	t.Cleanup(func() { _ = srv.Close() })
	if _, err := srv.GServer.CreateTopic(context.Background(), &pubsubpb.Topic{Name: topic}); err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient(srv.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	p, err := outbox.NewPubSub(context.Background(), "gatehouse-test", option.WithGRPCConn(conn))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p, srv
}

// Many relays sweeping at once against PostgreSQL publish each committed
// event exactly once: each message is leased by one relay only.
func TestRelaysPublishEachEventOnce(t *testing.T) {
	env := bootstraptest.New(t, bootstraptest.Postgres(t))
	p, srv := newPubSub(t)
	ctx := context.Background()
	const n, relays = 40, 8
	for i := range n {
		err := env.Store.Tx(ctx, func(tx store.Store) error {
			return env.Events.Emit(ctx, tx, events.MFA(fmt.Sprintf("u_%d", i), "reset"))
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for range relays {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := outbox.NewRelay(env.Store, p, env.Logger, outbox.Options{Now: env.Clock.Now})
			for range 3 {
				if _, err := r.Sweep(ctx, n); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	seen := map[string]int{}
	for _, m := range srv.Messages() {
		seen[m.Attributes["message_id"]]++
	}
	if len(seen) != n {
		t.Fatalf("%d distinct events published, want %d", len(seen), n)
	}
	for id, c := range seen {
		if c != 1 {
			t.Fatalf("%s published %d times", id, c)
		}
	}
	if due := outboxEvents(t, env.Store, env.Clock.Now()); len(due) != 0 {
		t.Fatalf("%d events still due", len(due))
	}
}

// The outbox relay publishes a committed event to Pub/Sub (pstest, the
// real client library) once, as a CloudEvent with its type in the
// attributes; consumers deduplicate on message_id.
func TestEventsReachPubSub(t *testing.T) {
	env := bootstraptest.New(t, bootstraptest.SQLite(t))
	p, srv := newPubSub(t)
	ctx := context.Background()
	err := env.Store.Tx(ctx, func(tx store.Store) error {
		return env.Events.Emit(ctx, tx, events.Key("data", "dk_2"))
	})
	if err != nil {
		t.Fatal(err)
	}
	relay := outbox.NewRelay(env.Store, p, env.Logger, outbox.Options{Now: env.Clock.Now})
	for range 2 {
		if _, err := relay.Sweep(ctx, 100); err != nil {
			t.Fatal(err)
		}
	}
	msgs := srv.Messages()
	if len(msgs) != 1 {
		t.Fatalf("published %d messages", len(msgs))
	}
	var ce event.Event
	if err := json.Unmarshal(msgs[0].Data, &ce); err != nil {
		t.Fatal(err)
	}
	a := msgs[0].Attributes
	if ce.Type() != string(events.KeyRotated) || a["ce-type"] != ce.Type() || a["message_id"] != "event/"+ce.ID() ||
		a["content-type"] != "application/cloudevents+json" || !strings.Contains(string(ce.Data()), `"key_id":"dk_2"`) {
		t.Fatalf("published %+v: %s", a, msgs[0].Data)
	}
}
