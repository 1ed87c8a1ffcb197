// Package broker hands the SaaS's own services a usable access token for a
// connection (CRED-7): the stored one while it has more than [Skew] to
// live, else a refreshed one. Refreshes of one connection are serialized
// across every instance by a row lock held for the refresh, and the
// connection is re-read under the lock, so concurrent callers make one
// refresh call to the platform; a rotated refresh token is stored in the
// same statement as the new access token. A refresh the platform refuses
// (invalid_grant) or a ciphertext that does not open marks the connection
// INVALID (CRED-5); a revoked connection is never used (CRED-6); a key
// outage is [ErrUnavailable] and changes nothing.
package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/audit"
	"github.com/gatehouse-dev/gatehouse/shared/envelope"
	"github.com/gatehouse-dev/gatehouse/shared/events"
	"github.com/gatehouse-dev/gatehouse/shared/logging"
	"github.com/gatehouse-dev/gatehouse/shared/outbound"
	"github.com/gatehouse-dev/gatehouse/shared/provider"
	"github.com/gatehouse-dev/gatehouse/shared/store"
	"github.com/gatehouse-dev/gatehouse/shared/telemetry"
)

// Skew is how long before its expiry an access token is refreshed.
const Skew = 5 * time.Minute

// Errors of [Broker.Token]. A missing connection is [store.ErrNotFound].
var (
	// ErrRevoked means the connection was disconnected.
	ErrRevoked = errors.New("broker: connection revoked")
	// ErrInvalid means the connection needs re-authorization.
	ErrInvalid = errors.New("broker: connection needs re-authorization")
	// ErrUnavailable means keys or the platform are unreachable right now;
	// nothing was changed and the call may be retried.
	ErrUnavailable = errors.New("broker: temporarily unavailable")
)

// Token is a usable access token.
type Token struct {
	AccessToken logging.Secret
	TokenType   string
	ExpiresAt   time.Time // zero when the platform gave no expiry
	Platform    string
	Account     string
}

// Broker issues tokens. It is safe for concurrent use.
type Broker struct {
	store    store.Store
	sealer   Sealer
	registry *provider.Registry
	audit    *audit.Log
	logger   *slog.Logger
	client   *outbound.Client
	metrics  *telemetry.Metrics
	now      func() time.Time
	events   *events.Emitter
}

// Options configure [New]. Client calls the platforms' token endpoints
// (default the production [outbound.Client]); Now defaults to time.Now.
type Options struct {
	Client  *outbound.Client
	Now     func() time.Time
	Metrics *telemetry.Metrics // refreshes by platform and outcome; none when nil
	Events  *events.Emitter    // connection.invalid (docs/events.md); none when nil
}

// New returns a Broker.
func New(s store.Store, sealer Sealer, reg *provider.Registry, log *audit.Log, logger *slog.Logger, o Options) *Broker {
	b := &Broker{store: s, sealer: sealer, registry: reg, audit: log, logger: logger, client: o.Client, metrics: o.Metrics, now: o.Now,
		events: o.Events}
	if b.metrics == nil {
		b.metrics = telemetry.Nop().Metrics
	}
	if b.client == nil {
		b.client = outbound.New(outbound.Options{})
	}
	if b.now == nil {
		b.now = time.Now
	}
	return b
}

// Token returns a usable access token for connection connID of orgID.
// Errors: [store.ErrNotFound], [ErrRevoked], [ErrInvalid], [ErrUnavailable],
// or a store failure.
func (b *Broker) Token(ctx context.Context, orgID, connID string) (Token, error) {
	c, err := b.store.Connection(ctx, orgID, connID)
	if err != nil {
		return Token{}, fmt.Errorf("read connection %s: %w", connID, err)
	}
	if err := usable(c); err != nil {
		return Token{}, err
	}
	if b.fresh(c) {
		return b.open(ctx, c)
	}
	return b.refresh(ctx, c)
}

func usable(c store.Connection) error {
	switch c.Status {
	case store.ConnectionActive:
		return nil
	case store.ConnectionInvalid:
		return ErrInvalid
	default:
		return ErrRevoked
	}
}

// fresh reports whether c's access token lives longer than Skew (or has no
// known expiry).
func (b *Broker) fresh(c store.Connection) bool {
	return c.ExpiresAt.IsZero() || c.ExpiresAt.After(b.now().Add(Skew))
}

// open returns c's stored access token. A ciphertext that does not open
// invalidates the connection.
func (b *Broker) open(ctx context.Context, c store.Connection) (Token, error) {
	at, err := openToken(ctx, b.sealer, c, FieldAccessToken, c.AccessToken)
	if err != nil {
		return Token{}, b.openFailed(ctx, c, err)
	}
	return Token{AccessToken: logging.NewSecret(at), TokenType: c.TokenType, ExpiresAt: c.ExpiresAt,
		Platform: c.Platform, Account: c.Account}, nil
}

// openFailed turns an Open error into the broker's: a key outage is
// retryable and changes nothing; any other failure invalidates c.
func (b *Broker) openFailed(ctx context.Context, c store.Connection, err error) error {
	if errors.Is(err, envelope.ErrUnavailable) || !errors.Is(err, envelope.ErrPermanent) {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	ierr := b.store.Tx(ctx, func(tx store.Store) error { return b.invalidate(ctx, tx, c, "decrypt_failed") })
	if ierr != nil && !errors.Is(ierr, store.ErrNotFound) {
		return fmt.Errorf("%w: %w", ErrUnavailable, ierr)
	}
	return fmt.Errorf("%w: %w", ErrInvalid, err)
}

// invalidate marks c INVALID for reason and audits it, in tx.
func (b *Broker) invalidate(ctx context.Context, tx store.Store, c store.Connection, reason string) error {
	if err := tx.SetConnectionStatus(ctx, c.OrgID, c.ID, store.ConnectionInvalid, reason, b.now()); err != nil {
		return err
	}
	_, err := b.audit.RecordTx(ctx, tx, audit.Event{Actor: "system", OrgID: c.OrgID, Action: "credential.invalidate",
		Target: c.ID, Outcome: store.OutcomeFailure, Metadata: map[string]any{"platform": c.Platform, "reason": reason}})
	if err != nil {
		return err
	}
	return b.events.Emit(ctx, tx, events.Connection(events.ConnectionInvalid,
		events.ConnectionData{ConnectionID: c.ID, OrgID: c.OrgID, Provider: c.Platform, Reason: reason}))
}
