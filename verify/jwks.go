package verify

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// maxJWKSBytes bounds a key set response.
const maxJWKSBytes = 64 << 10

// keySet caches the issuer's JWKS. It refetches when the set is older than
// maxAge, and on an unknown kid at most once per minRefetch, so tokens with
// made-up kids cannot turn into a fetch each. At most maxKeys Ed25519 keys
// are kept; other key types are ignored.
type keySet struct {
	url        string
	client     *http.Client
	now        func() time.Time
	maxAge     time.Duration
	minRefetch time.Duration
	maxKeys    int

	mu        sync.Mutex // one fetch at a time; guards the fields below
	keys      map[string]ed25519.PublicKey
	fetchedAt time.Time // last successful fetch
	triedAt   time.Time // last attempt, successful or not
}

// key returns the public key kid. It fetches the set when it is older
// than maxAge or lacks kid, at most once per minRefetch; a set that could
// not be refreshed for 2*maxAge is no longer trusted (fail closed). It
// returns ErrUnknownKey or ErrUnavailable, wrapped.
func (s *keySet) key(ctx context.Context, kid string) (ed25519.PublicKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	_, known := s.keys[kid]
	stale := s.keys == nil || now.Sub(s.fetchedAt) >= s.maxAge
	var fetchErr error
	if (stale || !known) && (s.triedAt.IsZero() || now.Sub(s.triedAt) >= s.minRefetch) {
		s.triedAt = now
		fetchErr = s.fetch(ctx)
	}
	if s.keys == nil || now.Sub(s.fetchedAt) >= 2*s.maxAge {
		return nil, fmt.Errorf("%w: no current key set from %s (last error: %v)", ErrUnavailable, s.url, fetchErr)
	}
	if k, ok := s.keys[kid]; ok {
		return k, nil
	}
	return nil, fmt.Errorf("%w: kid %.40q", ErrUnknownKey, kid)
}

// fetch replaces the cached keys with the set at s.url. The caller holds mu.
func (s *keySet) fetch(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return err
	}
	if len(body) > maxJWKSBytes {
		return fmt.Errorf("key set over %d bytes", maxJWKSBytes)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(body, &set); err != nil {
		return fmt.Errorf("decode key set: %w", err)
	}
	keys := map[string]ed25519.PublicKey{}
	for _, k := range set.Keys {
		pub, ok := k.Key.(ed25519.PublicKey)
		if !ok || k.KeyID == "" || (k.Algorithm != "" && k.Algorithm != string(jose.EdDSA)) || (k.Use != "" && k.Use != "sig") {
			continue
		}
		if len(keys) == s.maxKeys {
			break
		}
		keys[k.KeyID] = pub
	}
	s.keys, s.fetchedAt = keys, s.now()
	return nil
}
