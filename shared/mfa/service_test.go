package mfa_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/bootstrap/bootstraptest"
	"github.com/gatehouse-dev/gatehouse/shared/envelope"
	"github.com/gatehouse-dev/gatehouse/shared/mfa"
	"github.com/gatehouse-dev/gatehouse/shared/store"
)

type fixture struct {
	env *bootstraptest.Env
	svc *mfa.Service
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	env := bootstraptest.New(t, bootstraptest.SQLite(t))
	return &fixture{env: env, svc: mfa.NewService(env.Store, env.Keyring, "Gatehouse", env.Clock.Now, rand.Reader)}
}

// code returns the current TOTP code of secret, offset by d steps.
func (f *fixture) code(t *testing.T, s mfa.TOTPSecret, d int64) string {
	t.Helper()
	c, err := mfa.TOTPCode(s, mfa.TOTPStep(f.env.Clock.Now())+d)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// enroll enrolls and confirms TOTP for user and returns the secret and codes.
func (f *fixture) enroll(t *testing.T, user string) (mfa.TOTPSecret, []string) {
	t.Helper()
	ctx := context.Background()
	en, err := f.svc.EnrollTOTP(ctx, user, user+"@example.com")
	if err != nil {
		t.Fatal(err)
	}
	codes, err := f.svc.ConfirmTOTP(ctx, user, f.code(t, en.Secret, 0))
	if err != nil {
		t.Fatal(err)
	}
	return en.Secret, codes
}

// The secret is stored sealed under the TOTP purpose: the stored bytes do
// not contain it, and it opens under no other purpose (not the
// token-signing keys' one) nor another record's binding.
//
// Controls: AUTH-5, CRED-1, CRED-2
func TestTOTPSecretSealed(t *testing.T) {
	f, ctx := newFixture(t), context.Background()
	en, err := f.svc.EnrollTOTP(ctx, "alice", "alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	row, err := f.env.Store.TOTPSecret(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(row.Secret, en.Secret.Bytes()) {
		t.Fatal("stored TOTP secret contains the plaintext")
	}
	binding := envelope.Binding{Record: row.ID, Field: "totp_secrets.secret"}
	if pt, err := f.env.Keyring.Open(ctx, envelope.PurposeTOTP, binding, row.Secret); err != nil || !bytes.Equal(pt, en.Secret.Bytes()) {
		t.Fatalf("open under its own purpose and binding: %v", err)
	}
	for _, tc := range []struct {
		name    string
		purpose envelope.Purpose
		binding envelope.Binding
	}{
		{"signing-key purpose", envelope.PurposeSigningKey, binding},
		{"credential purpose", envelope.PurposeCredential, binding},
		{"other record", envelope.PurposeTOTP, envelope.Binding{Record: "totp_other", Field: binding.Field}},
	} {
		if _, err := f.env.Keyring.Open(ctx, tc.purpose, tc.binding, row.Secret); !errors.Is(err, envelope.ErrPermanent) {
			t.Errorf("%s: Open err = %v, want a permanent failure", tc.name, err)
		}
	}
	if !slices.ContainsFunc(store.SealedColumns(), func(c store.SealedColumn) bool {
		return c.Table == "totp_secrets" && c.Column == "secret" && c.Purpose == "totp" && c.Field() == binding.Field
	}) {
		t.Fatal("totp_secrets.secret is not registered for rotation")
	}
}

// Controls: AUTH-5
func TestTOTPEnrollConfirmVerify(t *testing.T) {
	f, ctx := newFixture(t), context.Background()
	if err := f.svc.VerifyTOTP(ctx, "alice", "123456"); !errors.Is(err, mfa.ErrNotEnrolled) {
		t.Fatalf("verify before enrollment: %v", err)
	}
	en, err := f.svc.EnrollTOTP(ctx, "alice", "alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if m, _ := f.svc.Methods(ctx, "alice"); len(m) != 0 {
		t.Fatalf("unconfirmed secret counts as MFA: %v", m)
	}
	if err := f.svc.VerifyTOTP(ctx, "alice", f.code(t, en.Secret, 0)); !errors.Is(err, mfa.ErrNotEnrolled) {
		t.Fatalf("verify against an unconfirmed secret: %v", err)
	}
	if _, err := f.svc.ConfirmTOTP(ctx, "alice", f.code(t, en.Secret, 3)); !errors.Is(err, mfa.ErrInvalidCode) {
		t.Fatalf("confirm with a wrong code: %v", err)
	}
	codes, err := f.svc.ConfirmTOTP(ctx, "alice", f.code(t, en.Secret, 0))
	if err != nil || len(codes) != mfa.RecoveryCodeCount {
		t.Fatalf("ConfirmTOTP = %d codes, %v", len(codes), err)
	}
	if _, err := f.svc.EnrollTOTP(ctx, "alice", "x"); !errors.Is(err, mfa.ErrAlreadyEnrolled) {
		t.Fatalf("second enrollment: %v", err)
	}
	if m, _ := f.svc.Methods(ctx, "alice"); !slices.Equal(m, []string{"totp", "recovery_code"}) {
		t.Fatalf("Methods = %v", m)
	}
	f.env.Clock.Advance(mfa.TOTPPeriod)
	for _, tc := range []struct {
		name string
		code string
		want error
	}{
		{"code used to confirm (now the previous step)", f.code(t, en.Secret, -1), mfa.ErrReplay},
		{"wrong code", "000000", mfa.ErrInvalidCode},
		{"current code", f.code(t, en.Secret, 0), nil},
		{"current code replayed", f.code(t, en.Secret, 0), mfa.ErrReplay},
		{"next step's code", f.code(t, en.Secret, 1), nil},
		{"current code after a later one", f.code(t, en.Secret, 0), mfa.ErrReplay},
	} {
		if err := f.svc.VerifyTOTP(ctx, "alice", tc.code); !errors.Is(err, tc.want) || (err == nil) != (tc.want == nil) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
	}
}

// Controls: AUTH-5
func TestRecoveryCodesSingleUse(t *testing.T) {
	f, ctx := newFixture(t), context.Background()
	_, codes := f.enroll(t, "alice")
	_, bobCodes := f.enroll(t, "bob")
	for _, tc := range []struct {
		name, user, code string
		want             error
	}{
		{"valid", "alice", codes[0], nil},
		{"reused", "alice", codes[0], mfa.ErrInvalidCode},
		{"another user's", "alice", bobCodes[0], mfa.ErrInvalidCode},
		{"garbage", "alice", "not a code", mfa.ErrInvalidCode},
		{"second code", "alice", codes[1], nil},
	} {
		if err := f.svc.UseRecoveryCode(ctx, tc.user, tc.code); !errors.Is(err, tc.want) || (err == nil) != (tc.want == nil) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
	}
	fresh, err := f.svc.RegenerateRecoveryCodes(ctx, "alice")
	if err != nil || len(fresh) != mfa.RecoveryCodeCount {
		t.Fatalf("RegenerateRecoveryCodes = %d, %v", len(fresh), err)
	}
	if err := f.svc.UseRecoveryCode(ctx, "alice", codes[2]); !errors.Is(err, mfa.ErrInvalidCode) {
		t.Fatalf("old code after regeneration: %v", err)
	}
	if err := f.svc.UseRecoveryCode(ctx, "alice", fresh[0]); err != nil {
		t.Fatalf("new code: %v", err)
	}
}

// Disabling the last factor removes the recovery codes; recovery codes
// cannot be generated without a factor.
//
// Controls: AUTH-5
func TestDisableTOTP(t *testing.T) {
	f, ctx := newFixture(t), context.Background()
	if _, err := f.svc.RegenerateRecoveryCodes(ctx, "alice"); !errors.Is(err, mfa.ErrNotEnrolled) {
		t.Fatalf("codes without a factor: %v", err)
	}
	_, codes := f.enroll(t, "alice")
	if err := f.svc.DisableTOTP(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.DisableTOTP(ctx, "alice"); !errors.Is(err, mfa.ErrNotEnrolled) {
		t.Fatalf("second disable: %v", err)
	}
	if m, _ := f.svc.Methods(ctx, "alice"); len(m) != 0 {
		t.Fatalf("Methods after disable = %v", m)
	}
	if err := f.svc.UseRecoveryCode(ctx, "alice", codes[0]); !errors.Is(err, mfa.ErrInvalidCode) {
		t.Fatalf("recovery code outlived the last factor: %v", err)
	}
	f.env.Clock.Advance(time.Hour)
	if _, err := f.svc.EnrollTOTP(ctx, "alice", "alice@example.com"); err != nil {
		t.Fatalf("re-enroll after disable: %v", err)
	}
}

// Key rotation re-encrypts TOTP secrets through the generic sealed-column
// access alone (what the rotate function does), and they keep working.
//
// Controls: CRED-8, AUTH-5
func TestTOTPSecretSurvivesReencryption(t *testing.T) {
	f, ctx := newFixture(t), context.Background()
	secret, _ := f.enroll(t, "alice")
	col := store.SealedColumn{Table: "totp_secrets", Column: "secret", Purpose: "totp"}
	before, err := f.env.Store.SealedValues(ctx, col, "", "", 10)
	if err != nil || len(before) != 1 {
		t.Fatalf("SealedValues = %v, %v", before, err)
	}
	if _, err := f.env.Keyring.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	v := before[0]
	fresh, err := f.env.Keyring.Reseal(ctx, envelope.PurposeTOTP, envelope.Binding{Org: v.Org, Record: v.ID, Field: col.Field()}, v.Ciphertext)
	if err != nil {
		t.Fatal(err)
	}
	newKey, _ := envelope.KeyID(fresh)
	if n, err := f.env.Store.ReplaceSealed(ctx, col, []store.SealedReplacement{{ID: v.ID, Old: v.Ciphertext, New: fresh, NewKeyID: newKey}}); err != nil || n != 1 {
		t.Fatalf("ReplaceSealed = %d, %v", n, err)
	}
	after, _ := f.env.Store.SealedValues(ctx, col, "", "", 10)
	if after[0].KeyID == v.KeyID || after[0].KeyID != newKey {
		t.Fatalf("key id %q after re-encryption (was %q, want %q)", after[0].KeyID, v.KeyID, newKey)
	}
	f.env.Clock.Advance(mfa.TOTPPeriod)
	if err := f.svc.VerifyTOTP(ctx, "alice", f.code(t, secret, 0)); err != nil {
		t.Fatalf("TOTP after re-encryption: %v", err)
	}
}
