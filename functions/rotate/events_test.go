package rotate

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/bootstrap/bootstraptest"
	"github.com/gatehouse-dev/gatehouse/shared/envelope"
	"github.com/gatehouse-dev/gatehouse/shared/events"
	"github.com/gatehouse-dev/gatehouse/shared/events/eventstest"
	"github.com/gatehouse-dev/gatehouse/shared/store"
)

// A rotation announces each key it makes, a data key and a token-signing
// key, as key.rotated in the transaction that stores the key: the event
// names the purpose and the key id, never the key material. The first
// keys, made on first use, are not rotations and announce nothing.
//
// Controls: CRED-8
func TestKeyRotationAnnounced(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			f := newFixture(t, backend)
			ctx := context.Background()
			first := f.firstDataKey(t)
			f.Clock.Advance(time.Minute)
			r := f.rotator(t, testConfig())
			rep, err := r.Run(ctx, Request{ID: "x1", Message: exposure(TaskDataKeys, TaskSigningKeys)})
			if err != nil || rep.Count(TaskDataKeys, "rotated") != 1 || rep.Count(TaskSigningKeys, "rotated") != 1 {
				t.Fatalf("rotation: %+v %+v, %v", rep.Task(TaskDataKeys), rep.Task(TaskSigningKeys), err)
			}
			dk, err := f.Store.PrimaryDataKey(ctx)
			if err != nil || dk.ID == first.ID {
				t.Fatalf("primary after rotation %s (was %s), %v", dk.ID, first.ID, err)
			}
			sks, err := f.Store.SigningKeys(ctx)
			if err != nil || len(sks) != 2 {
				t.Fatalf("signing keys %d, %v; want the first and the rotated one", len(sks), err)
			}
			newest := sks[len(sks)-1] // oldest ActiveAt first: the rotated key signs later
			for _, e := range []eventstest.Emitted{
				eventstest.Require(t, f.Store, events.KeyRotated, "key/data/"+dk.ID, map[string]string{"purpose": "data", "key_id": dk.ID}),
				eventstest.Require(t, f.Store, events.KeyRotated, "key/signing/"+newest.ID, map[string]string{"purpose": "signing", "key_id": newest.ID}),
			} {
				if len(e.Data) != 2 {
					t.Fatalf("key.rotated data %v: want only purpose and key_id", e.Data)
				}
			}
			if n := eventstest.Count(t, f.Store, events.KeyRotated); n != 2 {
				t.Fatalf("%d key.rotated events; want 2 (the first keys are not announced)", n)
			}
		})
	}
}

// A key whose event cannot be written is not stored: the rotation fails,
// the primary data key stays, and nothing is announced.
//
// Controls: CRED-8
func TestKeyRotationRolledBackWithItsEvent(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			f := newFixture(t, backend)
			ctx := context.Background()
			first := f.firstDataKey(t)
			f.Events = &events.Emitter{Topic: bootstraptest.EventsTopic, Now: f.Clock.Now, Rand: failingReader{}}
			f.Clock.Advance(time.Minute)
			r := f.rotator(t, testConfig())
			if _, err := r.Run(ctx, Request{ID: "x1", Message: exposure(TaskDataKeys)}); !errors.Is(err, errInjected) {
				t.Fatalf("rotation with its event failing: %v, want the injected failure", err)
			}
			keys, err := f.Store.ListDataKeys(ctx)
			if err != nil || len(keys) != 1 || keys[0].ID != first.ID || keys[0].State != store.DataKeyPrimary {
				t.Fatalf("data keys after the failed rotation: %+v, %v; want only %s, still primary", keys, err, first.ID)
			}
			if n := eventstest.Count(t, f.Store, events.KeyRotated); n != 0 {
				t.Fatalf("%d key.rotated events for a key never stored", n)
			}
		})
	}
}

// failingReader fails every read with errInjected.
type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errInjected }

// firstDataKey seals a value, which makes the first data key on first use
// (no rotation, nothing announced), and returns that key.
func (f *fixture) firstDataKey(t *testing.T) store.DataKey {
	t.Helper()
	ctx := context.Background()
	if _, err := f.Keyring.Seal(ctx, envelope.PurposeCredential, envelope.Binding{Record: "r1", Field: "f"}, []byte("x")); err != nil {
		t.Fatal(err)
	}
	first, err := f.Store.PrimaryDataKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return first
}
