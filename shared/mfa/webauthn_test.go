package mfa_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"slices"
	"testing"

	"github.com/descope/virtualwebauthn"

	"github.com/gatehouse-dev/gatehouse/shared/bootstrap/bootstraptest"
	"github.com/gatehouse-dev/gatehouse/shared/mfa"
	"github.com/gatehouse-dev/gatehouse/shared/mfa/mfatest"
)

var testRP = virtualwebauthn.RelyingParty{Name: "Gatehouse", ID: "app.example.com", Origin: "https://app.example.com"}

// authenticator is a software authenticator holding one credential.
type authenticator struct {
	auth virtualwebauthn.Authenticator
	cred virtualwebauthn.Credential
}

func newAuthenticator() *authenticator {
	return &authenticator{auth: virtualwebauthn.NewAuthenticator(), cred: mfatest.NewCredential()}
}

// attest answers creation options as navigator.credentials.create would.
func (a *authenticator) attest(t *testing.T, opts mfa.Options) []byte {
	t.Helper()
	raw, _ := json.Marshal(opts)
	parsed, err := virtualwebauthn.ParseAttestationOptions(string(raw))
	if err != nil {
		t.Fatal(err)
	}
	a.auth.Options.UserHandle = []byte(parsed.UserID)
	resp := virtualwebauthn.CreateAttestationResponse(testRP, a.auth, a.cred, *parsed)
	a.auth.AddCredential(a.cred)
	return []byte(resp)
}

// assert answers request options as navigator.credentials.get would,
// advancing the signature counter.
func (a *authenticator) assert(t *testing.T, opts mfa.Options) []byte {
	t.Helper()
	raw, _ := json.Marshal(opts)
	parsed, err := virtualwebauthn.ParseAssertionOptions(string(raw))
	if err != nil {
		t.Fatal(err)
	}
	a.cred.Counter++
	return []byte(virtualwebauthn.CreateAssertionResponse(testRP, a.auth, a.cred, *parsed))
}

func newWebAuthn(t *testing.T, f *fixture) *mfa.WebAuthn {
	t.Helper()
	w, err := mfa.NewWebAuthn(f.env.Store, mfa.WebAuthnConfig{RPID: testRP.ID, RPDisplayName: testRP.Name,
		RPOrigins: []string{testRP.Origin}}, f.env.Clock.Now, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func register(t *testing.T, w *mfa.WebAuthn, user string, a *authenticator) {
	t.Helper()
	ctx := context.Background()
	opts, err := w.BeginRegistration(ctx, user, user+"@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.FinishRegistration(ctx, user, opts.Ceremony, a.attest(t, opts)); err != nil {
		t.Fatal(err)
	}
}

func noGuard(context.Context, string) error { return nil }

// Register a passkey with a software authenticator, then use it as a
// second factor and for a passwordless sign-in; only public data is stored.
//
// Controls: AUTH-5
func TestWebAuthnEndToEnd(t *testing.T) {
	f, ctx := newFixture(t), context.Background()
	w := newWebAuthn(t, f)
	a := newAuthenticator()
	register(t, w, "alice", a)

	creds, err := f.env.Store.WebAuthnCredentials(ctx, "alice")
	if err != nil || len(creds) != 1 || len(creds[0].PublicKey) == 0 || creds[0].CloneWarning {
		t.Fatalf("stored credentials = %+v, %v", creds, err)
	}
	if m, _ := f.svc.Methods(ctx, "alice"); !slices.Equal(m, []string{"webauthn"}) {
		t.Fatalf("Methods = %v", m)
	}

	// The first factor was an organization's single sign-on: the
	// ceremony hands back which organization, for the session to record.
	prior := mfa.Prior{Methods: []string{"fed", "sso"}, SSOOrg: "org-a"}
	opts, err := w.BeginLogin(ctx, mfa.CeremonySecondFactor, "alice", prior)
	if err != nil {
		t.Fatal(err)
	}
	got, err := w.FinishLogin(ctx, mfa.CeremonySecondFactor, opts.Ceremony, a.assert(t, opts), noGuard)
	if err != nil || got.UserID != "alice" || got.Credential.ID != creds[0].ID || !slices.Equal(got.Prior.Methods, prior.Methods) ||
		got.Prior.SSOOrg != "org-a" {
		t.Fatalf("second factor = %+v, %v", got, err)
	}

	opts, err = w.BeginPasskeyLogin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	guarded := ""
	got, err = w.FinishLogin(ctx, mfa.CeremonyPasskey, opts.Ceremony, a.assert(t, opts),
		func(_ context.Context, user string) error { guarded = user; return nil })
	if err != nil || got.UserID != "alice" || !got.UserVerified || guarded != "alice" {
		t.Fatalf("passkey sign-in = %+v, %v (guard saw %q)", got, err, guarded)
	}
	if creds, _ := f.env.Store.WebAuthnCredentials(ctx, "alice"); creds[0].SignCount != a.cred.Counter {
		t.Fatalf("stored counter %d, authenticator at %d", creds[0].SignCount, a.cred.Counter)
	}
}

// Controls: AUTH-5
func TestWebAuthnRejections(t *testing.T) {
	f, ctx := newFixture(t), context.Background()
	w := newWebAuthn(t, f)
	alice, bob := newAuthenticator(), newAuthenticator()
	register(t, w, "alice", alice)
	register(t, w, "bob", bob)

	begin := func(kind mfa.Ceremony, user string) mfa.Options {
		t.Helper()
		o, err := w.BeginLogin(ctx, kind, user, mfa.Prior{})
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	for _, tc := range []struct {
		name string
		run  func() error
		want error
	}{
		{"bob's key for alice's ceremony", func() error {
			o := begin(mfa.CeremonySecondFactor, "alice")
			_, err := w.FinishLogin(ctx, mfa.CeremonySecondFactor, o.Ceremony, bob.assert(t, o), noGuard)
			return err
		}, mfa.ErrWebAuthn},
		{"ceremony replayed", func() error {
			o := begin(mfa.CeremonySecondFactor, "alice")
			resp := alice.assert(t, o)
			if _, err := w.FinishLogin(ctx, mfa.CeremonySecondFactor, o.Ceremony, resp, noGuard); err != nil {
				return err
			}
			_, err := w.FinishLogin(ctx, mfa.CeremonySecondFactor, o.Ceremony, resp, noGuard)
			return err
		}, mfa.ErrCeremony},
		{"step-up ceremony used for sign-in", func() error {
			o := begin(mfa.CeremonyStepUp, "alice")
			_, err := w.FinishLogin(ctx, mfa.CeremonySecondFactor, o.Ceremony, alice.assert(t, o), noGuard)
			return err
		}, mfa.ErrCeremony},
		{"garbage response", func() error {
			o := begin(mfa.CeremonySecondFactor, "alice")
			_, err := w.FinishLogin(ctx, mfa.CeremonySecondFactor, o.Ceremony, []byte(`{"id":"x"}`), noGuard)
			return err
		}, mfa.ErrWebAuthn},
		{"guard refuses", func() error {
			o := begin(mfa.CeremonySecondFactor, "alice")
			_, err := w.FinishLogin(ctx, mfa.CeremonySecondFactor, o.Ceremony, alice.assert(t, o),
				func(context.Context, string) error { return errLocked })
			return err
		}, errLocked},
		{"registration ceremony of another user", func() error {
			o, err := w.BeginRegistration(ctx, "alice", "alice")
			if err != nil {
				return err
			}
			_, err = w.FinishRegistration(ctx, "bob", o.Ceremony, newAuthenticator().attest(t, o))
			return err
		}, mfa.ErrCeremony},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.run(); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

var errLocked = errors.New("locked")

// A counter going backwards (a cloned key) is refused and the credential
// flagged; it stays refused even with a higher counter later.
//
// Controls: AUTH-5
func TestWebAuthnCloneWarning(t *testing.T) {
	f, ctx := newFixture(t), context.Background()
	w := newWebAuthn(t, f)
	a := newAuthenticator()
	register(t, w, "alice", a)
	login := func() error {
		o, err := w.BeginLogin(ctx, mfa.CeremonySecondFactor, "alice", mfa.Prior{Methods: []string{"pwd"}})
		if err != nil {
			t.Fatal(err)
		}
		_, err = w.FinishLogin(ctx, mfa.CeremonySecondFactor, o.Ceremony, a.assert(t, o), noGuard)
		return err
	}
	a.cred.Counter = 10
	if err := login(); err != nil {
		t.Fatal(err)
	}
	a.cred.Counter = 3 // the clone is behind the original
	if err := login(); !errors.Is(err, mfa.ErrCloned) {
		t.Fatalf("counter went backwards: err = %v, want ErrCloned", err)
	}
	creds, _ := f.env.Store.WebAuthnCredentials(ctx, "alice")
	if !creds[0].CloneWarning {
		t.Fatal("credential not flagged")
	}
	a.cred.Counter = 100
	if err := login(); !errors.Is(err, mfa.ErrCloned) {
		t.Fatalf("flagged credential accepted: err = %v", err)
	}
}

// Deleting the last credential removes the recovery codes with it.
//
// Controls: AUTH-5
func TestWebAuthnDelete(t *testing.T) {
	f, ctx := newFixture(t), context.Background()
	w := newWebAuthn(t, f)
	register(t, w, "alice", newAuthenticator())
	codes, err := f.svc.RegenerateRecoveryCodes(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	creds, _ := f.env.Store.WebAuthnCredentials(ctx, "alice")
	if err := w.DeleteCredential(ctx, "bob", creds[0].ID); !errors.Is(err, mfa.ErrNotEnrolled) {
		t.Fatalf("bob deleting alice's credential: %v", err)
	}
	if err := w.DeleteCredential(ctx, "alice", creds[0].ID); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.UseRecoveryCode(ctx, "alice", codes[0]); !errors.Is(err, mfa.ErrInvalidCode) {
		t.Fatalf("recovery code outlived the last factor: %v", err)
	}
}

// Whatever bytes a client sends as its authenticator response, verification
// fails cleanly: no panic, no success, the ceremony spent.
func FuzzWebAuthnFinishLogin(f *testing.F) {
	for _, seed := range []string{`{}`, `{"id":"AA","rawId":"AA","type":"public-key","response":{}}`, `null`, `[`,
		`{"id":"AA","rawId":"AA","type":"public-key","response":{"authenticatorData":"AAAA","clientDataJSON":"e30","signature":"AA"}}`} {
		f.Add([]byte(seed))
	}
	fx := newFuzzFixture(f)
	f.Fuzz(func(t *testing.T, resp []byte) {
		ctx := context.Background()
		o, err := fx.w.BeginLogin(ctx, mfa.CeremonySecondFactor, "alice", mfa.Prior{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := fx.w.FinishLogin(ctx, mfa.CeremonySecondFactor, o.Ceremony, resp, noGuard); err == nil {
			t.Fatalf("response %q accepted", resp)
		}
	})
}

type fuzzFixture struct{ w *mfa.WebAuthn }

func newFuzzFixture(f *testing.F) fuzzFixture {
	env := bootstraptest.New(f, bootstraptest.SQLite(f))
	w, err := mfa.NewWebAuthn(env.Store, mfa.WebAuthnConfig{RPID: testRP.ID, RPDisplayName: testRP.Name,
		RPOrigins: []string{testRP.Origin}}, env.Clock.Now, rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	a := newAuthenticator()
	ctx := context.Background()
	opts, err := w.BeginRegistration(ctx, "alice", "alice")
	if err != nil {
		f.Fatal(err)
	}
	raw, _ := json.Marshal(opts)
	parsed, err := virtualwebauthn.ParseAttestationOptions(string(raw))
	if err != nil {
		f.Fatal(err)
	}
	resp := virtualwebauthn.CreateAttestationResponse(testRP, a.auth, a.cred, *parsed)
	if _, err := w.FinishRegistration(ctx, "alice", opts.Ceremony, []byte(resp)); err != nil {
		f.Fatal(err)
	}
	return fuzzFixture{w: w}
}
