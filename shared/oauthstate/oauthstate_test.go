package oauthstate

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/envelope"
	"github.com/gatehouse-dev/gatehouse/shared/envelope/filekek"
	"github.com/gatehouse-dev/gatehouse/shared/store"
)

// memKeys is an in-memory envelope.DataKeyStore.
type memKeys struct {
	mu   sync.Mutex
	keys map[string]store.DataKey
}

func (m *memKeys) CreateDataKey(_ context.Context, k store.DataKey) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.keys[k.ID] = k
	return nil
}

func (m *memKeys) DataKey(_ context.Context, id string) (store.DataKey, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k, ok := m.keys[id]
	if !ok {
		return k, store.ErrNotFound
	}
	return k, nil
}

func (m *memKeys) PrimaryDataKey(_ context.Context) (store.DataKey, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, k := range m.keys {
		if k.State == store.DataKeyPrimary {
			return k, nil
		}
	}
	return store.DataKey{}, store.ErrNotFound
}

func (m *memKeys) SetDataKeyState(context.Context, string, store.DataKeyState, time.Time) error {
	return errors.New("not used")
}

func (m *memKeys) RewrapDataKey(context.Context, string, []byte, string, time.Time) error {
	return errors.New("not used")
}

type fixture struct {
	kr    *envelope.Keyring
	codec *Codec
	now   time.Time
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	kek, err := filekek.Load(filepath.Join(t.TempDir(), "kek"), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{now: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)}
	f.kr, err = envelope.New(&memKeys{keys: map[string]store.DataKey{}}, kek, envelope.Options{Now: func() time.Time { return f.now }})
	if err != nil {
		t.Fatal(err)
	}
	f.codec = New(f.kr, func() time.Time { return f.now }, rand.Reader)
	return f
}

func sample() State {
	return State{Kind: KindConnect, OrgID: "org-a", UserID: "user-1", Platform: "google_ads",
		ReturnTo: "https://app.example.com/integrations"}
}

// Controls: OAUTH-2, CRED-2
func TestVerify(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	tok, issued, err := f.codec.Issue(ctx, sample())
	if err != nil {
		t.Fatal(err)
	}
	if len(issued.Nonce) != 43 || len(issued.Verifier) != 43 || issued.Nonce == issued.Verifier {
		t.Fatalf("nonce %q, verifier %q", issued.Nonce, issued.Verifier)
	}
	otherPurpose, _ := f.kr.Seal(ctx, envelope.PurposeCredential, binding, []byte(`{"k":"connect"}`))
	raw, _ := base64.RawURLEncoding.DecodeString(tok)
	for _, tc := range []struct {
		name    string
		kind    Kind
		token   string
		cookie  string
		advance time.Duration
		want    error
	}{
		{"valid", KindConnect, tok, issued.Nonce, 0, nil},
		{"valid just before expiry", KindConnect, tok, issued.Nonce, TTL - time.Second, nil},
		{"expired", KindConnect, tok, issued.Nonce, TTL, ErrExpired},
		{"other browser", KindConnect, tok, "another-browser-nonce-aaaaaaaaaaaaaaaaaaaaaa", 0, ErrBrowser},
		{"no cookie", KindConnect, tok, "", 0, ErrBrowser},
		{"other flow kind", KindSignIn, tok, issued.Nonce, 0, ErrInvalid},
		{"tampered first byte", KindConnect, flip(raw, 0), issued.Nonce, 0, ErrInvalid},
		{"tampered middle", KindConnect, flip(raw, len(raw)/2), issued.Nonce, 0, ErrInvalid},
		{"tampered tag", KindConnect, flip(raw, len(raw)-1), issued.Nonce, 0, ErrInvalid},
		{"truncated", KindConnect, tok[:len(tok)-4], issued.Nonce, 0, ErrInvalid},
		{"padded base64", KindConnect, tok + "=", issued.Nonce, 0, ErrInvalid},
		{"other purpose", KindConnect, base64.RawURLEncoding.EncodeToString(otherPurpose), issued.Nonce, 0, ErrInvalid},
		{"empty", KindConnect, "", issued.Nonce, 0, ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f.now = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC).Add(tc.advance)
			got, err := f.codec.Verify(ctx, tc.kind, tc.token, tc.cookie)
			if !errors.Is(err, tc.want) || (err == nil) != (tc.want == nil) {
				t.Fatalf("Verify err = %v, want %v", err, tc.want)
			}
			if err == nil && (got.OrgID != "org-a" || got.Verifier != issued.Verifier || got.ReturnTo != issued.ReturnTo) {
				t.Fatalf("Verify = %+v", got)
			}
		})
	}
}

func flip(raw []byte, i int) string {
	b := append([]byte(nil), raw...)
	b[i] ^= 0x01
	return base64.RawURLEncoding.EncodeToString(b)
}

// downSealer fails like an unreachable KMS.
type downSealer struct{}

func (downSealer) Seal(context.Context, envelope.Purpose, envelope.Binding, []byte) ([]byte, error) {
	return nil, envelope.Unavailable(errors.New("kms down"))
}

func (downSealer) Open(context.Context, envelope.Purpose, envelope.Binding, []byte) ([]byte, error) {
	return nil, envelope.Unavailable(errors.New("kms down"))
}

// A key outage is retryable, not a forged state.
// Controls: APP-5
func TestVerifyUnavailable(t *testing.T) {
	c := New(downSealer{}, time.Now, rand.Reader)
	_, err := c.Verify(context.Background(), KindConnect, "AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "n")
	if !errors.Is(err, envelope.ErrUnavailable) || errors.Is(err, ErrInvalid) {
		t.Fatalf("err = %v, want ErrUnavailable only", err)
	}
	if _, _, err := c.Issue(context.Background(), sample()); !errors.Is(err, envelope.ErrUnavailable) {
		t.Fatalf("Issue err = %v, want ErrUnavailable", err)
	}
}

// FuzzVerify feeds arbitrary tokens to Verify: it never panics and never
// accepts anything but the token it issued.
//
// Controls: OAUTH-2
func FuzzVerify(f *testing.F) {
	fx := newFixture(f)
	ctx := context.Background()
	tok, issued, err := fx.codec.Issue(ctx, sample())
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{tok, tok[:20], "", "AAAA", "!!!", tok + "A"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		st, err := fx.codec.Verify(ctx, KindConnect, in, issued.Nonce)
		if err == nil && in != tok {
			t.Fatalf("Verify accepted a token it did not issue: %q -> %+v", in, st)
		}
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Fatalf("Verify(%q) err = %v, want ErrInvalid", in, err)
		}
	})
}
