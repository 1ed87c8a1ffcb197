package token

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/envelope"
	"github.com/gatehouse-dev/gatehouse/shared/events"
	"github.com/gatehouse-dev/gatehouse/shared/store"
)

// missReloadInterval throttles reloads caused by unknown key ids, so that
// tokens with made-up kids cannot turn into a query each.
const missReloadInterval = time.Second

// binding is where a key's sealed private half belongs.
func binding(id string) envelope.Binding {
	return envelope.Binding{Record: id, Field: "signing_keys.private_key"}
}

// load reads every key from the store and replaces the in-memory set.
func (s *Signer) load(ctx context.Context) error {
	keys, err := s.store.SigningKeys(ctx)
	if err != nil {
		return fmt.Errorf("%w: load signing keys: %w", ErrUnavailable, err)
	}
	public := make(map[string]ed25519.PublicKey, len(keys))
	for _, k := range keys {
		if len(k.PublicKey) != ed25519.PublicKeySize {
			return fmt.Errorf("signing key %s: public key has %d bytes", k.ID, len(k.PublicKey))
		}
		public[k.ID] = ed25519.PublicKey(k.PublicKey)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.public, s.keys, s.loadedAt = public, keys, s.opts.Now()
	for id := range s.private {
		if _, ok := public[id]; !ok {
			delete(s.private, id) // purged
		}
	}
	return nil
}

// maybeReload reloads the key set if it is older than the reload interval.
func (s *Signer) maybeReload(ctx context.Context, now time.Time) error {
	s.mu.RLock()
	fresh := now.Sub(s.loadedAt) < s.opts.Reload
	s.mu.RUnlock()
	if fresh {
		return nil
	}
	return s.reloadOnce(ctx, now, s.opts.Reload)
}

// reloadOnce reloads unless another caller did within minAge.
func (s *Signer) reloadOnce(ctx context.Context, now time.Time, minAge time.Duration) error {
	s.reload.Lock()
	defer s.reload.Unlock()
	s.mu.RLock()
	fresh := now.Sub(s.loadedAt) < minAge
	s.mu.RUnlock()
	if fresh {
		return nil
	}
	return s.load(ctx)
}

// publicKey returns the published key kid, reloading once (throttled) on a
// miss so keys created by another instance are found.
func (s *Signer) publicKey(ctx context.Context, kid string) (ed25519.PublicKey, error) {
	s.mu.RLock()
	k, ok := s.public[kid]
	s.mu.RUnlock()
	if ok {
		return k, nil
	}
	if kid == "" {
		return nil, errors.New("no kid")
	}
	if err := s.reloadOnce(ctx, s.opts.Now(), missReloadInterval); err != nil {
		return nil, err
	}
	s.mu.RLock()
	k, ok = s.public[kid]
	s.mu.RUnlock()
	if !ok {
		return nil, errors.New("unknown kid")
	}
	return k, nil
}

// signingKey returns the newest key active at now, unsealing its private
// half on first use.
func (s *Signer) signingKey(ctx context.Context, now time.Time) (string, ed25519.PrivateKey, error) {
	s.mu.RLock()
	var cur *store.SigningKey
	for i := range s.keys {
		if !s.keys[i].ActiveAt.After(now) {
			cur = &s.keys[i]
		}
	}
	var priv ed25519.PrivateKey
	if cur != nil {
		priv = s.private[cur.ID]
	}
	s.mu.RUnlock()
	switch {
	case cur == nil:
		return "", nil, fmt.Errorf("%w: no signing key is active", ErrUnavailable)
	case priv != nil:
		return cur.ID, priv, nil
	}
	seed, err := s.keyring.Open(ctx, envelope.PurposeSigningKey, binding(cur.ID), cur.PrivateKey)
	if err != nil {
		return "", nil, fmt.Errorf("%w: unseal signing key %s: %w", ErrUnavailable, cur.ID, err)
	}
	defer clear(seed)
	if len(seed) != ed25519.SeedSize {
		return "", nil, fmt.Errorf("signing key %s: seed has %d bytes", cur.ID, len(seed))
	}
	priv = ed25519.NewKeyFromSeed(seed)
	s.mu.Lock()
	s.private[cur.ID] = priv
	s.mu.Unlock()
	return cur.ID, priv, nil
}

// txStore is a key store that runs transactions, as [store.Store] does.
type txStore interface {
	Tx(ctx context.Context, fn func(tx store.Store) error) error
}

// create stores a new key that signs from activeAt on, announcing it if
// rotated (the first key, made on first use, is not), and reloads.
func (s *Signer) create(ctx context.Context, activeAt time.Time, rotated bool) error {
	var idb [12]byte
	seed := make([]byte, ed25519.SeedSize)
	defer clear(seed)
	if _, err := io.ReadFull(s.opts.Rand, idb[:]); err != nil {
		return fmt.Errorf("read key id: %w", err)
	}
	if _, err := io.ReadFull(s.opts.Rand, seed); err != nil {
		return fmt.Errorf("read signing key seed: %w", err)
	}
	id := base64.RawURLEncoding.EncodeToString(idb[:])
	sealed, err := s.keyring.Seal(ctx, envelope.PurposeSigningKey, binding(id), seed)
	if err != nil {
		return fmt.Errorf("seal signing key %s: %w", id, err)
	}
	pub := ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)
	k := store.SigningKey{ID: id, PublicKey: pub, PrivateKey: sealed, CreatedAt: s.opts.Now(), ActiveAt: activeAt}
	if err := s.storeKey(ctx, k, rotated); err != nil {
		return fmt.Errorf("store signing key %s: %w", id, err)
	}
	return s.load(ctx)
}

// storeKey inserts k and, if rotated, its key.rotated event, in one
// transaction when the store runs them: the event commits exactly when
// the key does. The event names the key, never its material.
func (s *Signer) storeKey(ctx context.Context, k store.SigningKey, rotated bool) error {
	ts, ok := s.store.(txStore) // NewSigner checked it when Events is set
	if !ok || !rotated || s.opts.Events == nil {
		return s.store.CreateSigningKey(ctx, k)
	}
	return ts.Tx(ctx, func(tx store.Store) error {
		if err := tx.CreateSigningKey(ctx, k); err != nil {
			return err
		}
		return s.opts.Events.Emit(ctx, tx, events.Key(events.KeyPurposeSigning, k.ID))
	})
}

// Rotate creates a new key. It is published at once and signs after the
// publish delay, so verifiers that cache the JWKS know it before they see
// a token it signed. With [Options.Events] the new key is announced
// (key.rotated) in the transaction that stores it.
func (s *Signer) Rotate(ctx context.Context) error {
	return s.create(ctx, s.opts.Now().Add(s.opts.PublishDelay), true)
}

// Purge deletes keys that no longer sign and whose every token has expired
// at now: those superseded by the current key more than the TTL (plus a
// minute of clock skew) ago. Keys not yet active are kept. It returns how
// many it deleted.
func (s *Signer) Purge(ctx context.Context, now time.Time) (int64, error) {
	if err := s.load(ctx); err != nil {
		return 0, err
	}
	s.mu.RLock()
	keys := append([]store.SigningKey(nil), s.keys...)
	s.mu.RUnlock()
	var current time.Time
	for _, k := range keys {
		if !k.ActiveAt.After(now) {
			current = k.ActiveAt
		}
	}
	if current.IsZero() || now.Before(current.Add(s.opts.TTL+time.Minute)) {
		return 0, nil
	}
	var n int64
	for _, k := range keys {
		if !k.ActiveAt.Before(current) {
			continue
		}
		if err := s.store.DeleteSigningKey(ctx, k.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
			return n, fmt.Errorf("purge signing key %s: %w", k.ID, err)
		}
		n++
	}
	return n, s.load(ctx)
}
