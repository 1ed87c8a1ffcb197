package envelope

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/events"
	"github.com/gatehouse-dev/gatehouse/shared/store"
)

// primaryFlight is the singleflight key of primary-key lookups; it cannot
// collide with a data-key id, which never contains a space.
const primaryFlight = "primary key"

// Rotate makes a new primary data key; the old primary becomes decrypt-only
// and everything it sealed still opens (CRED-8). Use it on schedule and after
// a suspected exposure. It costs one KEK call, and the new key is cached.
// The returned record holds only the wrapped key. With [Options.Events]
// the new key is announced (key.rotated) in the transaction that stores
// it. Errors are [ErrUnavailable]; a concurrent Rotate elsewhere may make
// it fail with [store.ErrConflict], also in class [ErrUnavailable].
func (k *Keyring) Rotate(ctx context.Context) (store.DataKey, error) {
	dk, e, err := k.createPrimary(ctx, true)
	if err != nil {
		return store.DataKey{}, err
	}
	k.setPrimary(e)
	return dk, nil
}

// Destroy erases the wrapped material of data key id, so nothing it sealed
// can be opened again ([ErrKeyDestroyed]), and drops it from this Keyring's
// cache; other instances drop it within their CacheTTL. The order is: Rotate,
// wait PrimaryTTL (until no instance seals under the old key), re-encrypt,
// Destroy. Destroy refuses the primary key and a key that changed less than
// PrimaryTTL ago, since another instance may still seal under it. Returns an
// error wrapping [store.ErrNotFound] if there is no such key.
func (k *Keyring) Destroy(ctx context.Context, id string) error {
	dk, err := k.store.DataKey(ctx, id)
	if err != nil {
		return fmt.Errorf("destroy data key %s: %w", id, storeErr(err))
	}
	if dk.State == store.DataKeyPrimary {
		return fmt.Errorf("destroy data key %s: it is the primary key; rotate first", id)
	}
	if k.now().Before(dk.UpdatedAt.Add(k.primaryTTL)) {
		return fmt.Errorf("destroy data key %s: demoted less than %v ago; instances may still seal under it", id, k.primaryTTL)
	}
	if err := k.store.SetDataKeyState(ctx, id, store.DataKeyDestroyed, k.now()); err != nil {
		return fmt.Errorf("destroy data key %s: %w", id, storeErr(err))
	}
	k.cache.evict(id)
	if p := k.primary.Load(); p != nil && p.id == id {
		k.primary.CompareAndSwap(p, nil)
	}
	return nil
}

// Rewrap unwraps data key id and wraps it again under the KEK's current
// version (two KEK calls), so that older KEK versions can be retired
// (CRED-8). The data key and everything it sealed are unchanged. Returns the
// updated record, [ErrKeyDestroyed] for a destroyed key, an error wrapping
// [store.ErrNotFound] for an unknown one, or the KEK's error.
func (k *Keyring) Rewrap(ctx context.Context, id string) (store.DataKey, error) {
	dk, err := k.store.DataKey(ctx, id)
	if err != nil {
		return store.DataKey{}, fmt.Errorf("rewrap data key %s: %w", id, storeErr(err))
	}
	if dk.State == store.DataKeyDestroyed || len(dk.Wrapped) == 0 {
		return store.DataKey{}, fmt.Errorf("rewrap data key %s: %w", id, ErrKeyDestroyed)
	}
	key, err := k.unwrap(ctx, dk)
	if err != nil {
		return store.DataKey{}, err
	}
	defer key.Clear()
	wrapped, version, err := k.kek.Wrap(ctx, key.Bytes(), wrapAAD(id))
	if err != nil {
		return store.DataKey{}, fmt.Errorf("rewrap data key %s: %w", id, Unavailable(err))
	}
	now := k.now()
	if err := k.store.RewrapDataKey(ctx, id, wrapped, version, now); err != nil {
		return store.DataKey{}, fmt.Errorf("rewrap data key %s: %w", id, storeErr(err))
	}
	dk.Wrapped, dk.KEKVersion, dk.UpdatedAt = wrapped, version, now
	return dk, nil
}

// primarySnapshot is the primary key's ciphers, trusted until until: the
// earlier of PrimaryTTL after the store was asked and the cache entry's
// expiry, so holding it here never outlives the cache's time bound.
type primarySnapshot struct {
	*cacheEntry
	until time.Time
}

// primaryKey returns the ciphers of the primary key, creating the first data
// key if there is none.
func (k *Keyring) primaryKey(ctx context.Context) (*cacheEntry, error) {
	if p := k.primary.Load(); p != nil && k.now().Before(p.until) {
		return p.cacheEntry, nil
	}
	v, err, _ := k.loads.Do(primaryFlight, func() (any, error) {
		id, err := k.findPrimary(ctx)
		if err != nil {
			return nil, err
		}
		e, err := k.key(ctx, []byte(id))
		if err != nil {
			return nil, err
		}
		k.setPrimary(e)
		return e, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*cacheEntry), nil
}

func (k *Keyring) setPrimary(e *cacheEntry) {
	until := k.now().Add(k.primaryTTL)
	if e.expires.Before(until) {
		until = e.expires
	}
	k.primary.Store(&primarySnapshot{cacheEntry: e, until: until})
}

// findPrimary reads the primary key id, creating a primary if none exists.
// When two instances race to create the first key and the store rejects one
// with ErrConflict, the loser reads the winner's key.
func (k *Keyring) findPrimary(ctx context.Context) (string, error) {
	dk, err := k.store.PrimaryDataKey(ctx)
	if err == nil {
		return dk.ID, nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return "", fmt.Errorf("find primary data key: %w", storeErr(err))
	}
	dk, _, err = k.createPrimary(ctx, false)
	if errors.Is(err, store.ErrConflict) {
		dk, err = k.store.PrimaryDataKey(ctx)
		if err != nil {
			return "", fmt.Errorf("find primary data key after conflict: %w", storeErr(err))
		}
	}
	if err != nil {
		return "", err
	}
	return dk.ID, nil
}

// createPrimary generates, wraps, stores and caches a new primary key,
// announcing it if rotated (the first key, made on first use, is not).
func (k *Keyring) createPrimary(ctx context.Context, rotated bool) (store.DataKey, *cacheEntry, error) {
	gen := k.cache.generation()
	id, err := newKeyID(k.rand)
	if err != nil {
		return store.DataKey{}, nil, err
	}
	key, err := NewKey(k.rand)
	if err != nil {
		return store.DataKey{}, nil, fmt.Errorf("create data key: %w", err)
	}
	defer key.Clear()
	wrapped, version, err := k.kek.Wrap(ctx, key.Bytes(), wrapAAD(id))
	if err != nil {
		return store.DataKey{}, nil, fmt.Errorf("wrap data key %s: %w", id, Unavailable(err))
	}
	aeads, err := purposeAEADs(key)
	if err != nil {
		return store.DataKey{}, nil, fmt.Errorf("create data key %s: %w", id, err)
	}
	now := k.now()
	dk := store.DataKey{ID: id, State: store.DataKeyPrimary, Wrapped: wrapped, KEKVersion: version, CreatedAt: now, UpdatedAt: now}
	if err := k.storeKey(ctx, dk, rotated); err != nil {
		return store.DataKey{}, nil, fmt.Errorf("store data key %s: %w", id, storeErr(err))
	}
	e := k.cache.newEntry(id, aeads, now)
	k.cache.put(e, gen)
	return dk, e, nil
}

// storeKey inserts dk and, if rotated, its key.rotated event, in one
// transaction when the store runs them: the event commits exactly when the
// key does.
func (k *Keyring) storeKey(ctx context.Context, dk store.DataKey, rotated bool) error {
	ts, ok := k.store.(txStore) // New checked it when events is set
	if !ok || !rotated || k.events == nil {
		return k.store.CreateDataKey(ctx, dk)
	}
	return ts.Tx(ctx, func(tx store.Store) error {
		if err := tx.CreateDataKey(ctx, dk); err != nil {
			return err
		}
		return k.events.Emit(ctx, tx, events.Key(events.KeyPurposeData, dk.ID))
	})
}

// newKeyID returns "dk_" and 32 hex digits of randomness.
func newKeyID(rand io.Reader) (string, error) {
	var b [16]byte
	if _, err := io.ReadFull(rand, b[:]); err != nil {
		return "", fmt.Errorf("read random key id: %w", err)
	}
	return "dk_" + hex.EncodeToString(b[:]), nil
}

// storeErr passes store.ErrNotFound through and marks every other store
// failure retryable; the store sentinel stays visible to errors.Is.
func storeErr(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return err
	}
	return Unavailable(err)
}
