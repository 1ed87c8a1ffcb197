package broker_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/bootstrap/bootstraptest"
	"github.com/gatehouse-dev/gatehouse/shared/broker"
	"github.com/gatehouse-dev/gatehouse/shared/envelope"
	"github.com/gatehouse-dev/gatehouse/shared/events"
	"github.com/gatehouse-dev/gatehouse/shared/events/eventstest"
	"github.com/gatehouse-dev/gatehouse/shared/oauthtest"
	"github.com/gatehouse-dev/gatehouse/shared/store"
)

func eachBackend(t *testing.T, run func(t *testing.T, s store.Store)) {
	for _, b := range bootstraptest.Backends {
		t.Run(b.Name, func(t *testing.T) { run(t, b.Open(t)) })
	}
}

// Controls: CRED-7, CRED-4
func TestTokenRefreshesBeforeExpiry(t *testing.T) {
	for _, tc := range []struct {
		name   string
		rotate bool
	}{
		{"rotating refresh tokens", true},
		{"non-rotating refresh tokens", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			eachBackend(t, func(t *testing.T, s store.Store) {
				f := newFixture(t, s, oauthtest.Options{RotateRefreshTokens: tc.rotate})
				first := f.connect(t, "con-1")
				b, ctx := f.broker(nil), context.Background()
				got, err := b.Token(ctx, org, "con-1")
				if err != nil || got.AccessToken.Reveal() != first.AccessToken || f.srv.RefreshCalls() != 0 {
					t.Fatalf("fresh token: %v (refreshes %d)", err, f.srv.RefreshCalls())
				}
				before := f.conn(t, "con-1")
				f.expire()
				got, err = b.Token(ctx, org, "con-1")
				if err != nil || got.AccessToken.Reveal() == first.AccessToken || !f.srv.AccessTokenValid(got.AccessToken.Reveal()) {
					t.Fatalf("refreshed token: %v", err)
				}
				after := f.conn(t, "con-1")
				if changed := !bytes.Equal(before.RefreshToken, after.RefreshToken); changed != tc.rotate {
					t.Fatalf("stored refresh token changed = %v, want %v", changed, tc.rotate)
				}
				if !after.ExpiresAt.Equal(f.env.Clock.Now().Add(time.Hour)) || !after.RefreshedAt.Equal(f.env.Clock.Now()) {
					t.Fatalf("after refresh: expires %v, refreshed %v", after.ExpiresAt, after.RefreshedAt)
				}
				// The stored refresh token still works: refresh again later.
				f.expire()
				if _, err := b.Token(ctx, org, "con-1"); err != nil || f.srv.RefreshCalls() != 2 {
					t.Fatalf("second refresh: %v (refreshes %d)", err, f.srv.RefreshCalls())
				}
				if !slices.Contains(f.auditActions(t), "credential.refresh") {
					t.Fatal("refresh not audited")
				}
			})
		})
	}
}

// Controls: CRED-5, AUDIT-1
func TestInvalidGrantInvalidates(t *testing.T) {
	eachBackend(t, func(t *testing.T, s store.Store) {
		f := newFixture(t, s, oauthtest.Options{})
		f.connect(t, "con-1")
		b, ctx := f.broker(nil), context.Background()
		f.expire()
		f.srv.FailNextRefresh("invalid_grant")
		if _, err := b.Token(ctx, org, "con-1"); !errors.Is(err, broker.ErrInvalid) {
			t.Fatalf("err = %v, want ErrInvalid", err)
		}
		c := f.conn(t, "con-1")
		if c.Status != store.ConnectionInvalid || c.StatusReason != "invalid_grant" {
			t.Fatalf("status %s (%s), want invalid", c.Status, c.StatusReason)
		}
		if _, err := b.Token(ctx, org, "con-1"); !errors.Is(err, broker.ErrInvalid) || f.srv.RefreshCalls() != 1 {
			t.Fatalf("second call: %v, refreshes %d (want no new refresh)", err, f.srv.RefreshCalls())
		}
		if !slices.Contains(f.auditActions(t), "credential.invalidate") {
			t.Fatal("invalidation not audited")
		}
		// Announced once: the second call finds it invalid already.
		eventstest.Require(t, s, events.ConnectionInvalid, "connection/con-1",
			map[string]string{"connection_id": "con-1", "org_id": org, "provider": "google_ads", "reason": "invalid_grant"})
	})
}

// Controls: CRED-6
func TestRevokedIsNeverUsed(t *testing.T) {
	eachBackend(t, func(t *testing.T, s store.Store) {
		f := newFixture(t, s, oauthtest.Options{})
		f.connect(t, "con-1")
		ctx := context.Background()
		if err := s.SetConnectionStatus(ctx, org, "con-1", store.ConnectionRevoked, "disconnected", f.env.Clock.Now()); err != nil {
			t.Fatal(err)
		}
		b := f.broker(openCounter{t: t})
		for _, advance := range []time.Duration{0, time.Hour} {
			f.env.Clock.Advance(advance)
			if _, err := b.Token(ctx, org, "con-1"); !errors.Is(err, broker.ErrRevoked) {
				t.Fatalf("err = %v, want ErrRevoked", err)
			}
		}
		if f.srv.RefreshCalls() != 0 {
			t.Fatal("a revoked connection was refreshed")
		}
		if _, err := b.Token(ctx, "org-b", "con-1"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("other organization: err = %v, want ErrNotFound", err)
		}
	})
}

// openCounter fails the test if the broker tries to decrypt anything.
type openCounter struct{ t *testing.T }

func (o openCounter) Seal(context.Context, envelope.Purpose, envelope.Binding, []byte) ([]byte, error) {
	o.t.Fatal("Seal called for a revoked connection")
	return nil, nil
}

func (o openCounter) Open(context.Context, envelope.Purpose, envelope.Binding, []byte) ([]byte, error) {
	o.t.Fatal("Open called for a revoked connection")
	return nil, nil
}

// Controls: CRED-5, CRED-1
func TestTamperedCiphertextInvalidates(t *testing.T) {
	eachBackend(t, func(t *testing.T, s store.Store) {
		f := newFixture(t, s, oauthtest.Options{})
		f.connect(t, "con-1")
		ctx := context.Background()
		c := f.conn(t, "con-1")
		tampered := bytes.Clone(c.AccessToken)
		tampered[len(tampered)-1] ^= 0x01
		if err := s.UpdateConnectionTokens(ctx, org, "con-1", store.ConnectionTokens{AccessToken: tampered,
			TokenType: c.TokenType, ExpiresAt: c.ExpiresAt}, f.env.Clock.Now()); err != nil {
			t.Fatal(err)
		}
		if _, err := f.broker(nil).Token(ctx, org, "con-1"); !errors.Is(err, broker.ErrInvalid) {
			t.Fatalf("err = %v, want ErrInvalid", err)
		}
		if got := f.conn(t, "con-1"); got.Status != store.ConnectionInvalid || got.StatusReason != "decrypt_failed" {
			t.Fatalf("status %s (%s), want invalid decrypt_failed", got.Status, got.StatusReason)
		}
		eventstest.Require(t, s, events.ConnectionInvalid, "connection/con-1",
			map[string]string{"connection_id": "con-1", "org_id": org, "provider": "google_ads", "reason": "decrypt_failed"})
	})
}

// downSealer is a keyring whose KMS is unreachable.
type downSealer struct{}

func (downSealer) Seal(context.Context, envelope.Purpose, envelope.Binding, []byte) ([]byte, error) {
	return nil, envelope.Unavailable(errors.New("kms: UNAVAILABLE"))
}

func (downSealer) Open(context.Context, envelope.Purpose, envelope.Binding, []byte) ([]byte, error) {
	return nil, envelope.Unavailable(errors.New("kms: UNAVAILABLE"))
}

// Controls: CRED-5, APP-5
func TestOutagesChangeNothing(t *testing.T) {
	eachBackend(t, func(t *testing.T, s store.Store) {
		f := newFixture(t, s, oauthtest.Options{})
		first := f.connect(t, "con-1")
		ctx := context.Background()
		before := f.conn(t, "con-1")
		eventsBefore := len(f.auditActions(t))
		if _, err := f.broker(downSealer{}).Token(ctx, org, "con-1"); !errors.Is(err, broker.ErrUnavailable) {
			t.Fatalf("KMS down: err = %v, want ErrUnavailable", err)
		}
		// Platform down: a token that has not expired yet is still served;
		// an expired one is a retryable failure.
		f.srv.SetDown(true)
		f.expire()
		got, err := f.broker(nil).Token(ctx, org, "con-1")
		if err != nil || got.AccessToken.Reveal() != first.AccessToken {
			t.Fatalf("platform down, token still valid: %v", err)
		}
		f.env.Clock.Advance(broker.Skew)
		if _, err := f.broker(nil).Token(ctx, org, "con-1"); !errors.Is(err, broker.ErrUnavailable) {
			t.Fatalf("platform down, token expired: err = %v, want ErrUnavailable", err)
		}
		after := f.conn(t, "con-1")
		if after.Status != store.ConnectionActive || !bytes.Equal(after.AccessToken, before.AccessToken) ||
			len(f.auditActions(t)) != eventsBefore {
			t.Fatalf("an outage changed the connection: %s", after.Status)
		}
	})
}

// A copy of the database without the key-encryption key opens nothing:
// a keyring over the same rows but another KEK fails permanently.
//
// Controls: CRED-3
func TestDatabaseAloneCannotDecrypt(t *testing.T) {
	s := bootstraptest.SQLite(t)
	f := newFixture(t, s, oauthtest.Options{})
	f.connect(t, "con-1")
	c := f.conn(t, "con-1")
	other := bootstraptest.New(t, s) // same store, a fresh file KEK
	_, err := other.Keyring.Open(context.Background(), envelope.PurposeCredential, broker.Binding(org, "con-1", broker.FieldAccessToken), c.AccessToken)
	if !errors.Is(err, envelope.ErrPermanent) {
		t.Fatalf("Open with another KEK: err = %v, want a permanent failure", err)
	}
}
