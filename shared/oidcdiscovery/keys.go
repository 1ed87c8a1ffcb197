package oidcdiscovery

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/gatehouse-dev/gatehouse/shared/outbound"
)

// ParseKeys returns the public signing keys of a JWKS document (RFC 7517):
// keys marked for another use, private keys and keys go-jose cannot use
// are dropped, and at most [MaxKeys] are kept. No usable key is an
// [*Error] with [CauseBadKeys].
func ParseKeys(body []byte) ([]jose.JSONWebKey, error) {
	if len(body) > MaxKeySet {
		return nil, fail(CauseTooLarge, "key set of %d bytes", len(body))
	}
	// Decode key by key, so that one key go-jose refuses (an unknown
	// type or curve) does not hide the others.
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, fail(CauseBadKeys, "not a JWKS document: %v", err)
	}
	var keys []jose.JSONWebKey
	for _, raw := range set.Keys {
		var k jose.JSONWebKey
		if json.Unmarshal(raw, &k) != nil || !k.Valid() || !k.IsPublic() || (k.Use != "" && k.Use != "sig") {
			continue
		}
		if keys = append(keys, k); len(keys) == MaxKeys {
			break
		}
	}
	if len(keys) == 0 {
		return nil, fail(CauseBadKeys, "no usable public signing key among %d", len(set.Keys))
	}
	return keys, nil
}

// FetchKeys fetches and parses the JWKS at u through c.
func FetchKeys(ctx context.Context, c *outbound.Client, u string) ([]jose.JSONWebKey, error) {
	body, err := get(ctx, c, u, MaxKeySet)
	if err != nil {
		return nil, err
	}
	return ParseKeys(body)
}

// Refetch bounds of a [KeySet].
const (
	// MinRefetch is the shortest time between two fetches of one key set,
	// so tokens naming unknown keys cannot make Gatehouse hammer a host.
	MinRefetch = time.Minute
)

// KeySet is a provider's signing keys, fetched through the outbound client
// when a token names a key it does not hold, at most once per
// [MinRefetch], a failed fetch included (the failure is cached for that
// long). It implements go-oidc's KeySet.
type KeySet struct {
	url    string
	client *outbound.Client
	now    func() time.Time

	mu      sync.Mutex
	keys    []jose.JSONWebKey
	fetched time.Time // last attempt, successful or not
	err     error     // of the last attempt
}

// NewKeySet returns the key set at u, holding keys (which may be nil:
// fetched on first use).
func NewKeySet(c *outbound.Client, u string, keys []jose.JSONWebKey, now func() time.Time) *KeySet {
	ks := &KeySet{url: u, client: c, now: now, keys: keys}
	if keys != nil {
		ks.fetched = now()
	}
	return ks
}

var errNoKey = errors.New("oidc discovery: no key of the provider verifies the token")

// VerifySignature verifies jwt's signature with a key of the set and
// returns its payload. Algorithms are checked by the caller's verifier.
func (ks *KeySet) VerifySignature(ctx context.Context, jwt string) ([]byte, error) {
	jws, err := jose.ParseSigned(jwt, allAlgorithms())
	if err != nil {
		return nil, err
	}
	kid := ""
	if len(jws.Signatures) > 0 {
		kid = jws.Signatures[0].Header.KeyID
	}
	keys, err := ks.current(ctx, false)
	for attempt := 0; attempt < 2; attempt++ {
		if err != nil {
			return nil, err
		}
		for _, k := range keys {
			if kid == "" || k.KeyID == kid {
				if payload, verr := jws.Verify(&k); verr == nil {
					return payload, nil
				}
			}
		}
		keys, err = ks.current(ctx, true)
	}
	return nil, errNoKey
}

// current returns the keys, fetching them when there are none yet or when
// refresh is asked and the last attempt is older than MinRefetch.
func (ks *KeySet) current(ctx context.Context, refresh bool) ([]jose.JSONWebKey, error) {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	due := ks.fetched.IsZero() || refresh && ks.now().Sub(ks.fetched) >= MinRefetch
	if !due {
		if ks.keys == nil && ks.err != nil {
			return nil, &Error{Cause: CauseFailureCached, Err: ks.err}
		}
		if refresh {
			return nil, errNoKey
		}
		return ks.keys, nil
	}
	keys, err := FetchKeys(ctx, ks.client, ks.url)
	ks.fetched, ks.err = ks.now(), err
	if err != nil {
		// Keep keys that verified before: a provider briefly down does
		// not stop tokens signed with a known key.
		if ks.keys == nil {
			return nil, err
		}
		return nil, errNoKey
	}
	ks.keys = keys
	return keys, nil
}

func allAlgorithms() []jose.SignatureAlgorithm {
	out := make([]jose.SignatureAlgorithm, len(Supported))
	for i, a := range Supported {
		out[i] = jose.SignatureAlgorithm(a)
	}
	return out
}
