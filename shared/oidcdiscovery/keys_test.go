package oidcdiscovery_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/gatehouse-dev/gatehouse/shared/oidcdiscovery"
	"github.com/gatehouse-dev/gatehouse/shared/outbound/outboundtest"
)

// jwksServer serves a changeable key set and counts fetches.
type jwksServer struct {
	*httptest.Server
	mu      sync.Mutex
	keys    []jose.JSONWebKey
	fail    bool
	fetches atomic.Int64
}

func newJWKS(t *testing.T) *jwksServer {
	s := &jwksServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		s.fetches.Add(1)
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.fail {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: s.keys})
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) set(fail bool, keys ...jose.JSONWebKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail, s.keys = fail, keys
}

type signingKey struct {
	priv *ecdsa.PrivateKey
	kid  string
}

func newKey(t *testing.T, kid string) signingKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return signingKey{k, kid}
}

func (k signingKey) public() jose.JSONWebKey {
	return jose.JSONWebKey{Key: &k.priv.PublicKey, KeyID: k.kid, Algorithm: "ES256", Use: "sig"}
}

func (k signingKey) sign(t *testing.T, payload string) string {
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: k.priv, KeyID: k.kid}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := s.Sign([]byte(payload))
	if err != nil {
		t.Fatal(err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// A key set fetches when a token names a key it does not hold, at most
// once per MinRefetch: tokens with made-up key ids cannot make Gatehouse
// request the provider's host again and again, and a failed fetch is
// remembered as long.
//
// Controls: APP-7, AUTH-10
func TestKeySetRefetchBound(t *testing.T) {
	srv := newJWKS(t)
	k1, k2, stranger := newKey(t, "k1"), newKey(t, "k2"), newKey(t, "k9")
	srv.set(false, k1.public())
	clk := &clock{now: time.Unix(1_700_000_000, 0)}
	ks := oidcdiscovery.NewKeySet(outboundtest.Client(t, srv.Server), srv.URL, nil, clk.Now)
	ctx := context.Background()

	if p, err := ks.VerifySignature(ctx, k1.sign(t, "one")); err != nil || string(p) != "one" {
		t.Fatalf("first token: %q, %v", p, err)
	}
	for range 5 {
		if _, err := ks.VerifySignature(ctx, stranger.sign(t, "x")); err == nil {
			t.Fatal("a token of an unknown key verified")
		}
	}
	if n := srv.fetches.Load(); n != 1 {
		t.Fatalf("%d fetches, want 1 (unknown keys within MinRefetch fetch nothing)", n)
	}
	// The provider rotates: after MinRefetch the new key is fetched once.
	srv.set(false, k1.public(), k2.public())
	clk.Add(oidcdiscovery.MinRefetch)
	if p, err := ks.VerifySignature(ctx, k2.sign(t, "two")); err != nil || string(p) != "two" {
		t.Fatalf("rotated key: %q, %v", p, err)
	}
	// The provider goes down: known keys still verify, the failure is
	// fetched once and remembered.
	srv.set(true)
	clk.Add(oidcdiscovery.MinRefetch)
	for range 3 {
		if _, err := ks.VerifySignature(ctx, stranger.sign(t, "x")); err == nil {
			t.Fatal("verified while down")
		}
	}
	if _, err := ks.VerifySignature(ctx, k1.sign(t, "still")); err != nil {
		t.Fatalf("known key while the provider is down: %v", err)
	}
	if n := srv.fetches.Load(); n != 3 {
		t.Fatalf("%d fetches, want 3", n)
	}

	// A key set that never fetched successfully reports the cached
	// failure without asking again.
	down := oidcdiscovery.NewKeySet(outboundtest.Client(t, srv.Server), srv.URL, nil, clk.Now)
	before := srv.fetches.Load()
	_, err := down.VerifySignature(ctx, k1.sign(t, "x"))
	_, err2 := down.VerifySignature(ctx, k1.sign(t, "x"))
	if causeOf(err) != oidcdiscovery.CauseStatus || causeOf(err2) != oidcdiscovery.CauseFailureCached || srv.fetches.Load() != before+1 {
		t.Fatalf("down: %v then %v after %d fetches", err, err2, srv.fetches.Load()-before)
	}
}

// Controls: APP-7
func TestParseKeys(t *testing.T) {
	k := newKey(t, "k1")
	pub, _ := json.Marshal(k.public())
	priv, _ := json.Marshal(jose.JSONWebKey{Key: k.priv, KeyID: "p", Algorithm: "ES256"})
	enc, _ := json.Marshal(jose.JSONWebKey{Key: &k.priv.PublicKey, KeyID: "e", Use: "enc"})
	for _, tc := range []struct {
		name, body string
		want       int
	}{
		{"one key", `{"keys":[` + string(pub) + `]}`, 1},
		{"private and encryption keys dropped", `{"keys":[` + string(priv) + `,` + string(enc) + `,` + string(pub) + `]}`, 1},
		{"unknown key type skipped", `{"keys":[{"kty":"XYZ"},` + string(pub) + `]}`, 1},
		{"capped", `{"keys":[` + strings.Repeat(string(pub)+",", 60) + string(pub) + `]}`, oidcdiscovery.MaxKeys},
		{"none usable", `{"keys":[` + string(priv) + `]}`, 0},
		{"not JSON", `<html>`, 0},
		{"empty", `{}`, 0},
	} {
		keys, err := oidcdiscovery.ParseKeys([]byte(tc.body))
		if len(keys) != tc.want || (tc.want == 0) != (err != nil) {
			t.Errorf("%s: %d keys, %v; want %d", tc.name, len(keys), err, tc.want)
		}
		for _, key := range keys {
			if !key.IsPublic() {
				t.Errorf("%s: kept a private key", tc.name)
			}
		}
	}
}

func FuzzParseKeys(f *testing.F) {
	f.Add(`{"keys":[{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}`)
	f.Add(`{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"}]}`)
	f.Add(`{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}`)
	f.Add(`{"keys":null}`)
	f.Fuzz(func(t *testing.T, body string) {
		keys, err := oidcdiscovery.ParseKeys([]byte(body))
		if err == nil && (len(keys) == 0 || len(keys) > oidcdiscovery.MaxKeys) {
			t.Fatalf("%d keys without an error", len(keys))
		}
		for _, k := range keys {
			if !k.IsPublic() || !k.Valid() {
				t.Fatalf("kept %+v", k)
			}
		}
		if err != nil && !errors.As(err, new(*oidcdiscovery.Error)) {
			t.Fatalf("error without a cause: %v", err)
		}
	})
}
