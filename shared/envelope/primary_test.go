package envelope_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/gatehouse-dev/gatehouse/shared/envelope"
	"github.com/gatehouse-dev/gatehouse/shared/store"
	"github.com/gatehouse-dev/gatehouse/shared/store/sqlite"
)

// Controls: CRED-3, CRED-8
func TestConcurrentFirstSealAgreesOnOnePrimary(t *testing.T) {
	e := newEnv(t, envelope.Options{})
	const instances = 8
	cts := make([][]byte, instances)
	errs := make([]error, instances)
	var wg sync.WaitGroup
	for i := range instances {
		kr := e.keyring(t, envelope.Options{})
		wg.Go(func() { cts[i], errs[i] = kr.Seal(ctx, envelope.PurposeCredential, binding, secret) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("instance %d: Seal: %v", i, err)
		}
	}
	keys, err := e.store.ListDataKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	primaries := 0
	for _, k := range keys {
		if k.State == store.DataKeyPrimary {
			primaries++
		}
	}
	if primaries != 1 {
		t.Fatalf("%d primary keys among %d, want exactly 1", primaries, len(keys))
	}
	cold := e.keyring(t, envelope.Options{})
	for _, ct := range cts {
		mustOpen(t, cold, envelope.PurposeCredential, binding, ct, secret)
	}
}

// racingStore is the real store, except that its first CreateDataKey lets
// another instance create the primary first and then fails with ErrConflict,
// as PostgreSQL's unique index on the primary does when two instances race.
// SQLite serializes writers, so the real store alone cannot produce this.
type racingStore struct {
	*sqlite.DB
	winner func()
	raced  bool
}

func (s *racingStore) CreateDataKey(ctx context.Context, k store.DataKey) error {
	if !s.raced {
		s.raced = true
		s.winner()
		return fmt.Errorf("insert data key %s: %w", k.ID, store.ErrConflict)
	}
	return s.DB.CreateDataKey(ctx, k)
}

// Controls: CRED-3
func TestFirstSealLosingTheRaceUsesTheWinnersKey(t *testing.T) {
	e := newEnv(t, envelope.Options{})
	var winnerCT []byte
	rs := &racingStore{DB: e.store, winner: func() { winnerCT = seal(t, e.kr, envelope.PurposeCredential, binding, secret) }}
	loser, err := envelope.New(rs, e.kek, envelope.Options{Now: e.clock.now})
	if err != nil {
		t.Fatal(err)
	}
	ct := seal(t, loser, envelope.PurposeCredential, binding, []byte("loser"))
	winnerID, _ := envelope.KeyID(winnerCT)
	if id, _ := envelope.KeyID(ct); id != winnerID {
		t.Fatalf("loser sealed under %s, want the winner's key %s", id, winnerID)
	}
	if keys, err := e.store.ListDataKeys(ctx); err != nil || len(keys) != 1 {
		t.Fatalf("data keys %v, %v; want exactly the winner's", keys, err)
	}
	mustOpen(t, e.kr, envelope.PurposeCredential, binding, ct, []byte("loser"))
}
