package token_test

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gatehouse-dev/gatehouse/shared/bootstrap/bootstraptest"
	"github.com/gatehouse-dev/gatehouse/shared/store"
	"github.com/gatehouse-dev/gatehouse/shared/token"
)

// flakyKeys fails SigningKeys while down is set.
type flakyKeys struct {
	inner store.SigningKeys
	down  atomic.Bool
}

func (f *flakyKeys) CreateSigningKey(ctx context.Context, k store.SigningKey) error {
	return f.inner.CreateSigningKey(ctx, k)
}

func (f *flakyKeys) DeleteSigningKey(ctx context.Context, id string) error {
	return f.inner.DeleteSigningKey(ctx, id)
}

func (f *flakyKeys) SigningKeys(ctx context.Context) ([]store.SigningKey, error) {
	if f.down.Load() {
		return nil, errors.New("database down")
	}
	return f.inner.SigningKeys(ctx)
}

type fixture struct {
	env    *bootstraptest.Env
	keys   *flakyKeys
	signer *token.Signer
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	env := bootstraptest.New(t, bootstraptest.SQLite(t))
	f := &fixture{env: env, keys: &flakyKeys{inner: env.Store}}
	f.signer = f.newSigner(t)
	return f
}

func (f *fixture) newSigner(t testing.TB) *token.Signer {
	t.Helper()
	s, err := token.NewSigner(context.Background(), f.keys, f.env.Keyring, token.Options{
		Issuer: "https://gatehouse.example.com", TTL: 10 * time.Minute, Now: f.env.Clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (f *fixture) sign(t testing.TB) (string, token.Claims) {
	t.Helper()
	tok, c, err := f.signer.Sign(context.Background(), token.Claims{Subject: "user-1", SessionID: "sess-1"})
	if err != nil {
		t.Fatal(err)
	}
	return tok, c
}

func TestSignVerify(t *testing.T) {
	f := newFixture(t)
	tok, signed := f.sign(t)
	got, err := f.signer.Verify(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if got.Subject != "user-1" || got.SessionID != "sess-1" || got.KeyID != signed.KeyID ||
		!got.ExpiresAt.Equal(bootstraptest.Start.Add(10*time.Minute)) {
		t.Fatalf("claims = %+v", got)
	}
	var hdr map[string]any
	raw, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
	if err := json.Unmarshal(raw, &hdr); err != nil || hdr["alg"] != "EdDSA" || hdr["kid"] != signed.KeyID {
		t.Fatalf("header = %v", hdr)
	}
}

// Anything but a well-formed, unexpired EdDSA token of ours is rejected.
//
// Controls: AUTH-6, APP-5
func TestVerifyRejects(t *testing.T) {
	f := newFixture(t)
	good, c := f.sign(t)
	parts := strings.Split(good, ".")
	otherKey := ed25519.NewKeyFromSeed(make([]byte, 32))
	forge := func(method jwt.SigningMethod, key any, mutate func(jwt.MapClaims, map[string]any)) string {
		claims := jwt.MapClaims{"iss": "https://gatehouse.example.com", "aud": "gatehouse", "sub": "user-1",
			"sid": "sess-1", "iat": c.IssuedAt.Unix(), "exp": c.ExpiresAt.Unix()}
		tk := jwt.NewWithClaims(method, claims)
		tk.Header["kid"] = c.KeyID
		if mutate != nil {
			mutate(claims, tk.Header)
		}
		s, err := tk.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	for _, tc := range []struct {
		name string
		tok  string
	}{
		{"empty", ""},
		{"garbage", "not.a.jwt"},
		{"tampered payload", parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"admin","sid":"sess-1"}`)) + "." + parts[2]},
		{"signature cut", parts[0] + "." + parts[1] + "."},
		{"alg none", forge(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, nil)},
		{"HS256 keyed with nothing secret", forge(jwt.SigningMethodHS256, []byte(c.KeyID), nil)},
		{"other Ed25519 key", forge(jwt.SigningMethodEdDSA, otherKey, nil)},
		{"unknown kid", forge(jwt.SigningMethodEdDSA, otherKey, func(_ jwt.MapClaims, h map[string]any) { h["kid"] = "nope" })},
		{"no kid", forge(jwt.SigningMethodEdDSA, otherKey, func(_ jwt.MapClaims, h map[string]any) { delete(h, "kid") })},
	} {
		if _, err := f.signer.Verify(context.Background(), tc.tok); !errors.Is(err, token.ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", tc.name, err)
		}
	}
	f.env.Clock.Advance(10*time.Minute + time.Second)
	if _, err := f.signer.Verify(context.Background(), good); !errors.Is(err, token.ErrInvalid) {
		t.Errorf("expired: err = %v, want ErrInvalid", err)
	}
}

// Tokens from another issuer or audience, or without a session, are
// rejected even when signed by our key.
func TestVerifyClaims(t *testing.T) {
	f := newFixture(t)
	other, err := token.NewSigner(context.Background(), f.env.Store, f.env.Keyring, token.Options{
		Issuer: "https://other.example.com", Now: f.env.Clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := other.Sign(context.Background(), token.Claims{Subject: "u", SessionID: "s"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.signer.Verify(context.Background(), tok); !errors.Is(err, token.ErrInvalid) {
		t.Errorf("other issuer: err = %v, want ErrInvalid", err)
	}
	tok, _, _ = f.signer.Sign(context.Background(), token.Claims{Subject: "u"})
	if _, err := f.signer.Verify(context.Background(), tok); !errors.Is(err, token.ErrInvalid) {
		t.Errorf("no sid: err = %v, want ErrInvalid", err)
	}
}

// A rotated key is published before it signs; the old key keeps verifying
// until its tokens expire, then Purge drops it.
//
// Controls: CRED-8
func TestRotateAndPurge(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	_, oldClaims := f.sign(t)
	if err := f.signer.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	set, err := f.signer.JWKS(ctx)
	if err != nil || len(set.Keys) != 2 {
		t.Fatalf("JWKS after rotate = %+v, %v; want 2 keys", set, err)
	}
	f.env.Clock.Advance(14 * time.Minute)
	oldTok, c := f.sign(t)
	if c.KeyID != oldClaims.KeyID {
		t.Fatal("the new key signs before the publish delay")
	}
	f.env.Clock.Advance(time.Minute)
	newTok, newClaims := f.sign(t)
	for name, tok := range map[string]string{"old": oldTok, "new": newTok} {
		if _, err := f.signer.Verify(ctx, tok); err != nil {
			t.Fatalf("%s key's token after the switch: %v", name, err)
		}
	}
	if newClaims.KeyID == oldClaims.KeyID {
		t.Fatal("the new key does not sign after the publish delay")
	}
	if n, err := f.signer.Purge(ctx, f.env.Clock.Now()); err != nil || n != 0 {
		t.Fatalf("Purge right after the switch = %d, %v; want 0", n, err)
	}
	f.env.Clock.Advance(11 * time.Minute)
	if n, err := f.signer.Purge(ctx, f.env.Clock.Now()); err != nil || n != 1 {
		t.Fatalf("Purge after TTL = %d, %v; want 1", n, err)
	}
	if set, _ := f.signer.JWKS(ctx); len(set.Keys) != 1 || set.Keys[0].KeyID != newClaims.KeyID {
		t.Fatalf("JWKS after purge = %+v", set)
	}
	if _, c := f.sign(t); c.KeyID != newClaims.KeyID {
		t.Fatal("after purge the current key no longer signs")
	}
}

// A signer in another instance finds a key it has not loaded yet.
func TestOtherInstanceKeys(t *testing.T) {
	f := newFixture(t)
	b := f.newSigner(t)
	if err := f.signer.Rotate(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.env.Clock.Advance(15 * time.Minute)
	tok, _ := f.sign(t)
	if _, err := b.Verify(context.Background(), tok); err != nil {
		t.Fatalf("instance b rejects a token of a key created by a: %v", err)
	}
}

// A key lookup that cannot reach the store denies with ErrUnavailable.
//
// Controls: APP-5
func TestUnavailable(t *testing.T) {
	f := newFixture(t)
	b := f.newSigner(t)
	if err := f.signer.Rotate(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.env.Clock.Advance(15 * time.Minute)
	tok, _ := f.sign(t)
	f.keys.down.Store(true)
	if _, err := b.Verify(context.Background(), tok); !errors.Is(err, token.ErrUnavailable) {
		t.Fatalf("Verify with the store down: err = %v, want ErrUnavailable", err)
	}
}

func TestJWKSHandler(t *testing.T) {
	f := newFixture(t)
	rec := httptest.NewRecorder()
	f.signer.Handler(f.env.Logger).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/.well-known/jwks.json", nil))
	var set token.JWKS
	if err := json.Unmarshal(rec.Body.Bytes(), &set); err != nil || rec.Code != 200 || len(set.Keys) != 1 {
		t.Fatalf("status %d body %s", rec.Code, rec.Body)
	}
	k := set.Keys[0]
	x, err := base64.RawURLEncoding.DecodeString(k.X)
	if k.KeyType != "OKP" || k.Curve != "Ed25519" || k.Algorithm != "EdDSA" || err != nil || len(x) != 32 {
		t.Fatalf("JWK = %+v", k)
	}
	if !strings.Contains(rec.Header().Get("Cache-Control"), "max-age=300") {
		t.Fatalf("Cache-Control = %q", rec.Header().Get("Cache-Control"))
	}
	if strings.Contains(rec.Body.String(), `"d"`) {
		t.Fatal("JWKS contains a private key member")
	}
}

func FuzzVerify(f *testing.F) {
	fx := newFixture(f)
	good, _ := fx.sign(f)
	f.Add(good)
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Add("a.b.c")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := fx.signer.Verify(context.Background(), s)
		if err == nil && (c.Subject == "" || c.SessionID == "") {
			t.Fatalf("accepted %q without sub/sid", s)
		}
		if err == nil && s != good {
			t.Fatalf("accepted a token that is not the one signed: %q", s)
		}
	})
}

// A verify-only signer creates no key on an empty store, never signs, and
// verifies what a full signer on the same store signed.
func TestVerifyOnly(t *testing.T) {
	env := bootstraptest.New(t, bootstraptest.SQLite(t))
	ctx := context.Background()
	opts := token.Options{Issuer: "https://gatehouse.example.com", Now: env.Clock.Now, VerifyOnly: true}
	v, err := token.NewSigner(ctx, env.Store, env.Keyring, opts)
	if err != nil {
		t.Fatal(err)
	}
	if keys, err := env.Store.SigningKeys(ctx); err != nil || len(keys) != 0 {
		t.Fatalf("a verify-only signer created keys: %v, %v", keys, err)
	}
	if _, _, err := v.Sign(ctx, token.Claims{Subject: "u", SessionID: "s"}); err == nil {
		t.Fatal("a verify-only signer signed")
	}
	opts.VerifyOnly = false
	full, err := token.NewSigner(ctx, env.Store, env.Keyring, opts)
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := full.Sign(ctx, token.Claims{Subject: "u", SessionID: "s"})
	if err != nil {
		t.Fatal(err)
	}
	env.Clock.Advance(2 * time.Minute) // past the key-set reload interval
	if c, err := v.Verify(ctx, tok); err != nil || c.Subject != "u" {
		t.Fatalf("verify-only signer: %+v, %v", c, err)
	}
}

// An organization-scoped token carries org_id, role and the permission
// list (an empty list stays a list), and keeps the ordinary lifetime;
// org_id without a role is refused.
func TestOrgClaims(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for _, perms := range [][]string{{"read", "features.use"}, {}} {
		tok, signed, err := f.signer.Sign(ctx, token.Claims{Subject: "user-1", SessionID: "sess-1",
			Org: &token.Org{ID: "org-1", Role: "operator", Permissions: perms}})
		if err != nil {
			t.Fatal(err)
		}
		got, err := f.signer.Verify(ctx, tok)
		if err != nil {
			t.Fatal(err)
		}
		if got.Org == nil || got.Org.ID != "org-1" || got.Org.Role != "operator" || len(got.Org.Permissions) != len(perms) ||
			!got.ExpiresAt.Equal(signed.IssuedAt.Add(f.signer.TTL())) {
			t.Fatalf("claims = %+v org %+v", got, got.Org)
		}
		raw, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[1])
		if !strings.Contains(string(raw), `"permissions":[`) {
			t.Fatalf("payload %s has no permission list", raw)
		}
	}
	plain, _ := f.sign(t)
	if got, err := f.signer.Verify(ctx, plain); err != nil || got.Org != nil {
		t.Fatalf("unscoped token: %+v, %v", got, err)
	}
	if _, _, err := f.signer.Sign(ctx, token.Claims{Subject: "u", SessionID: "s", Org: &token.Org{ID: "org-1"}}); err == nil {
		t.Fatal("Sign accepted org claims without a role")
	}
}
