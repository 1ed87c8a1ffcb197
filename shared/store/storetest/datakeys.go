package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/store"
)

func testDataKeys(t *testing.T, open Opener) {
	s, ctx := open(t), context.Background()
	if _, err := s.PrimaryDataKey(ctx); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("PrimaryDataKey on empty store: err = %v, want ErrNotFound", err)
	}
	k1 := store.DataKey{ID: "dk1", State: store.DataKeyPrimary, Wrapped: []byte("w1"), KEKVersion: "v1", CreatedAt: epoch}
	k2 := store.DataKey{ID: "dk2", State: store.DataKeyPrimary, Wrapped: []byte("w2"), KEKVersion: "v1", CreatedAt: epoch.Add(time.Hour)}
	for _, k := range []store.DataKey{k1, k2} {
		if err := s.CreateDataKey(ctx, k); err != nil {
			t.Fatalf("CreateDataKey(%s): %v", k.ID, err)
		}
	}
	if err := s.CreateDataKey(ctx, k1); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate CreateDataKey: err = %v, want ErrConflict", err)
	}
	p, err := s.PrimaryDataKey(ctx)
	if err != nil || p.ID != "dk2" {
		t.Fatalf("PrimaryDataKey = %q, %v; want dk2", p.ID, err)
	}
	got, err := s.DataKey(ctx, "dk1")
	if err != nil || got.State != store.DataKeyDecryptOnly || string(got.Wrapped) != "w1" || !got.CreatedAt.Equal(epoch) {
		t.Fatalf("DataKey(dk1) = %+v, %v; want decrypt-only w1 created %v", got, err, epoch)
	}
	if err := s.RewrapDataKey(ctx, "dk1", []byte("w1b"), "v2", epoch); err != nil {
		t.Fatalf("RewrapDataKey: %v", err)
	}
	if got, _ := s.DataKey(ctx, "dk1"); string(got.Wrapped) != "w1b" || got.KEKVersion != "v2" {
		t.Fatalf("after rewrap: %+v", got)
	}
	if err := s.SetDataKeyState(ctx, "dk1", store.DataKeyDestroyed, epoch); err != nil {
		t.Fatalf("destroy: %v", err)
	}
	if got, _ := s.DataKey(ctx, "dk1"); got.State != store.DataKeyDestroyed || got.Wrapped != nil {
		t.Fatalf("destroyed key keeps material: %+v", got)
	}
	if err := s.RewrapDataKey(ctx, "dk1", []byte("x"), "v3", epoch); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("rewrap destroyed key: err = %v, want ErrNotFound", err)
	}
	for _, id := range []string{"nope"} {
		if _, err := s.DataKey(ctx, id); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("DataKey(%s): err = %v, want ErrNotFound", id, err)
		}
		if err := s.SetDataKeyState(ctx, id, store.DataKeyDecryptOnly, epoch); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("SetDataKeyState(%s): err = %v, want ErrNotFound", id, err)
		}
	}
	if err := s.SetDataKeyState(ctx, "dk2", "bogus", epoch); err == nil {
		t.Fatal("SetDataKeyState accepted an unknown state")
	}
	keys, err := s.ListDataKeys(ctx)
	if err != nil || len(keys) != 2 || keys[0].ID != "dk1" || keys[1].ID != "dk2" {
		t.Fatalf("ListDataKeys = %v, %v", keys, err)
	}
}

// Many instances creating a primary at once end with exactly one primary.
func testDataKeyConcurrentPrimary(t *testing.T, open Opener) {
	s, ctx := open(t), context.Background()
	errs := race(20, func(i int) error {
		return s.CreateDataKey(ctx, store.DataKey{ID: fmt.Sprintf("k%02d", i), State: store.DataKeyPrimary,
			Wrapped: []byte{byte(i)}, KEKVersion: "v1", CreatedAt: epoch.Add(time.Duration(i) * time.Second)})
	})
	for i, err := range errs {
		if err != nil && !errors.Is(err, store.ErrConflict) {
			t.Fatalf("create k%02d: %v", i, err)
		}
	}
	keys, err := s.ListDataKeys(ctx)
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
		t.Fatalf("%d primary keys after concurrent creation, want 1", primaries)
	}
}
