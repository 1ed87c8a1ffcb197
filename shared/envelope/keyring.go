// Package envelope is Gatehouse's key hierarchy and ciphertext format.
//
// A key-encryption key ([KEK]: Cloud KMS in production, see package kmskek;
// a local file in development, see package filekek) wraps data keys of 32
// random bytes, which are stored only wrapped (CRED-3). Each data key yields
// one AES-256-GCM key per [Purpose] through HKDF-SHA256 (CRED-2). A
// [Keyring] seals secrets under the primary data key and opens them under
// whichever key the ciphertext names, binding every ciphertext to its
// purpose, organization, record and field (CRED-1). Plaintext exists only in
// the caller's memory for the call that needs it (CRED-4); failures are
// [ErrPermanent] or [ErrUnavailable] (CRED-5).
package envelope

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/gatehouse-dev/gatehouse/shared/events"
	"github.com/gatehouse-dev/gatehouse/shared/store"
)

// KEK wraps and unwraps data keys. Implementations authenticate aad with the
// wrapped bytes, so a wrapped key moved to another id does not unwrap. Errors
// must be in class [ErrPermanent] when the wrapped bytes or aad are wrong and
// [ErrUnavailable] when the service failed; the [Keyring] treats an
// unclassified error as [ErrUnavailable].
type KEK interface {
	// Wrap encrypts plaintext under the current KEK version and returns the
	// wrapped bytes and the name of that version.
	Wrap(ctx context.Context, plaintext, aad []byte) (wrapped []byte, version string, err error)
	// Unwrap decrypts what Wrap returned for the same aad, whichever KEK
	// version wrapped it.
	Unwrap(ctx context.Context, wrapped, aad []byte) ([]byte, error)
}

// DataKeyStore is the part of [store.DataKeys] a Keyring uses.
type DataKeyStore interface {
	CreateDataKey(ctx context.Context, k store.DataKey) error
	DataKey(ctx context.Context, id string) (store.DataKey, error)
	PrimaryDataKey(ctx context.Context) (store.DataKey, error)
	SetDataKeyState(ctx context.Context, id string, state store.DataKeyState, now time.Time) error
	RewrapDataKey(ctx context.Context, id string, wrapped []byte, kekVersion string, now time.Time) error
}

// Options tune a Keyring. The zero value is a production configuration.
type Options struct {
	// CacheSize bounds how many unwrapped data keys are cached (default 64).
	CacheSize int
	// CacheTTL bounds how long an unwrapped data key is cached after it was
	// unwrapped, however often it is used (default 10 minutes).
	CacheTTL time.Duration
	// PrimaryTTL bounds how long the id of the primary key is trusted before
	// the store is asked again (default 1 minute). After Rotate on another
	// instance, this one may go on sealing under the old key, which stays
	// decrypt-only, for up to PrimaryTTL: re-encryption of a demoted key's
	// records must start later than that.
	PrimaryTTL time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Rand is the source of keys, key ids and nonces (default crypto/rand).
	Rand io.Reader
	// CacheLookup, if set, is told the result of every lookup of an
	// unwrapped data key (metrics: a miss costs a KEK call).
	CacheLookup func(ctx context.Context, hit bool)
	// Events, if set, announces each key [Keyring.Rotate] makes
	// (key.rotated, docs/events.md) in the transaction that stores it.
	// New then needs a store that runs transactions (a [store.Store]).
	Events *events.Emitter
}

// txStore is a DataKeyStore that runs transactions, as [store.Store] does.
type txStore interface {
	Tx(ctx context.Context, fn func(tx store.Store) error) error
}

// Keyring seals and opens secrets. It is safe for concurrent use.
type Keyring struct {
	store      DataKeyStore
	kek        KEK
	now        func() time.Time
	rand       io.Reader
	primaryTTL time.Duration
	cache      *keyCache
	observe    func(ctx context.Context, hit bool)
	events     *events.Emitter
	loads      singleflight.Group // one KEK call per key id at a time

	// primary is the key Seal uses, trusted until primarySnapshot.until.
	primary atomic.Pointer[primarySnapshot]
}

// New returns a Keyring over s and kek.
func New(s DataKeyStore, kek KEK, opts Options) (*Keyring, error) {
	if s == nil || kek == nil {
		return nil, errors.New("envelope: New needs a store and a KEK")
	}
	if opts.CacheSize < 0 || opts.CacheTTL < 0 || opts.PrimaryTTL < 0 {
		return nil, errors.New("envelope: negative cache option")
	}
	if _, ok := s.(txStore); opts.Events != nil && !ok {
		return nil, errors.New("envelope: Events needs a store that runs transactions")
	}
	k := &Keyring{store: s, kek: kek, now: opts.Now, rand: opts.Rand, primaryTTL: opts.PrimaryTTL, observe: opts.CacheLookup,
		events: opts.Events}
	if k.observe == nil {
		k.observe = func(context.Context, bool) {}
	}
	if k.now == nil {
		k.now = time.Now
	}
	if k.rand == nil {
		k.rand = rand.Reader
	}
	if k.primaryTTL == 0 {
		k.primaryTTL = time.Minute
	}
	size, ttl := opts.CacheSize, opts.CacheTTL
	if size == 0 {
		size = 64
	}
	if ttl == 0 {
		ttl = 10 * time.Minute
	}
	k.cache = newKeyCache(size, ttl)
	return k, nil
}

// Seal encrypts plaintext for purpose p at binding b under the primary data
// key, creating the first data key if there is none. The result opens only
// with the same p and b. Errors are [ErrUnavailable] (KEK or store down) or a
// caller mistake (unknown purpose).
func (k *Keyring) Seal(ctx context.Context, p Purpose, b Binding, plaintext []byte) ([]byte, error) {
	pi, err := purposeIndex(p)
	if err != nil {
		return nil, err
	}
	if err := checkBinding(b); err != nil {
		return nil, err
	}
	dk, err := k.primaryKey(ctx)
	if err != nil {
		return nil, err
	}
	// One allocation holds the ciphertext and, past its end, the associated
	// data; the caller's slice ends with the ciphertext.
	hdr := 2 + len(dk.id)
	ctLen := hdr + nonceSize + len(plaintext) + tagSize
	buf := make([]byte, ctLen, ctLen+aadSize(hdr, p, b))
	appendHeader(buf[:0], dk.id)
	nonce := buf[hdr : hdr+nonceSize]
	if _, err := io.ReadFull(k.rand, nonce); err != nil {
		return nil, fmt.Errorf("read nonce: %w", err)
	}
	aad := appendAAD(buf[ctLen:ctLen], buf[:hdr], p, b)
	return dk.aeads[pi].Seal(buf[:hdr+nonceSize], nonce, plaintext, aad)[:ctLen:ctLen], nil
}

// Open decrypts a ciphertext from [Keyring.Seal] with the same purpose and
// binding. It returns [ErrMalformed] for bytes that are not a ciphertext,
// [ErrDecrypt] when authentication fails (tampered, other binding or purpose,
// unknown or unwrappable data key), [ErrKeyDestroyed] when the data key was
// destroyed, all three in class [ErrPermanent]; and [ErrUnavailable] when the
// KEK or the store failed. A warm Open (data key cached) makes no KEK call.
// The caller should clear the plaintext once it is used (CRED-4).
func (k *Keyring) Open(ctx context.Context, p Purpose, b Binding, ciphertext []byte) ([]byte, error) {
	pi, err := purposeIndex(p)
	if err != nil {
		return nil, err
	}
	if err := checkBinding(b); err != nil {
		return nil, err
	}
	h, err := parseHeader(ciphertext)
	if err != nil {
		return nil, err
	}
	dk, err := k.key(ctx, h.id)
	if err != nil {
		return nil, err
	}
	// One allocation holds the associated data and, after it, the plaintext.
	n := aadSize(len(h.raw), p, b)
	buf := make([]byte, n+len(h.box)-tagSize)
	aad := appendAAD(buf[:0:n], h.raw, p, b)
	pt, err := dk.aeads[pi].Open(buf[n:n], h.nonce, h.box, aad)
	if err != nil {
		return nil, fmt.Errorf("open under data key %s: %w", dk.id, ErrDecrypt)
	}
	return pt, nil
}

// Reseal opens ciphertext and seals the plaintext again under the primary
// data key, for re-encryption after a rotation. The plaintext never leaves
// the Keyring. Errors are those of [Keyring.Open] and [Keyring.Seal].
func (k *Keyring) Reseal(ctx context.Context, p Purpose, b Binding, ciphertext []byte) ([]byte, error) {
	pt, err := k.Open(ctx, p, b, ciphertext)
	if err != nil {
		return nil, err
	}
	defer clear(pt)
	return k.Seal(ctx, p, b, pt)
}

// KeyID returns the id of the data key that sealed ciphertext, reading only
// the header: it does not prove the ciphertext authentic. It returns
// [ErrMalformed] for bytes that are not a ciphertext.
func KeyID(ciphertext []byte) (string, error) {
	h, err := parseHeader(ciphertext)
	if err != nil {
		return "", err
	}
	return string(h.id), nil
}

// key returns the ciphers of data key id, unwrapping the key on a cache miss.
func (k *Keyring) key(ctx context.Context, id []byte) (*cacheEntry, error) {
	if e, ok := k.cache.get(id, k.now()); ok {
		k.observe(ctx, true)
		return e, nil
	}
	k.observe(ctx, false)
	sid := string(id)
	v, err, _ := k.loads.Do(sid, func() (any, error) { return k.load(ctx, sid) })
	if err != nil {
		return nil, err
	}
	return v.(*cacheEntry), nil
}

// load reads data key id from the store, unwraps it and caches its ciphers.
func (k *Keyring) load(ctx context.Context, id string) (*cacheEntry, error) {
	gen := k.cache.generation()
	dk, err := k.store.DataKey(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("load data key %s: %w: no such key", id, ErrDecrypt)
	}
	if err != nil {
		return nil, fmt.Errorf("load data key %s: %w", id, Unavailable(err))
	}
	if dk.State == store.DataKeyDestroyed || len(dk.Wrapped) == 0 {
		return nil, fmt.Errorf("load data key %s: %w", id, ErrKeyDestroyed)
	}
	key, err := k.unwrap(ctx, dk)
	if err != nil {
		return nil, err
	}
	defer key.Clear()
	aeads, err := purposeAEADs(key)
	if err != nil {
		return nil, fmt.Errorf("load data key %s: %w", id, err)
	}
	e := k.cache.newEntry(id, aeads, k.now())
	k.cache.put(e, gen)
	return e, nil
}

// unwrap asks the KEK for the plaintext of dk. The caller clears the result.
func (k *Keyring) unwrap(ctx context.Context, dk store.DataKey) (*Key, error) {
	raw, err := k.kek.Unwrap(ctx, dk.Wrapped, wrapAAD(dk.ID))
	if err != nil {
		return nil, fmt.Errorf("unwrap data key %s: %w", dk.ID, Unavailable(err))
	}
	defer clear(raw)
	key, err := KeyFromBytes(raw)
	if err != nil {
		return nil, fmt.Errorf("unwrap data key %s: %w: %w", dk.ID, ErrDecrypt, err)
	}
	return key, nil
}

// wrapAAD is the KEK associated data of data key id: a wrapped key copied to
// another id does not unwrap.
func wrapAAD(id string) []byte {
	return []byte("gatehouse/data-key/v1/" + id)
}
