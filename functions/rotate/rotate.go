// Package rotate is the Rotate CloudEvent function: scheduled key rotation,
// re-encryption, purges and retention, triggered by Cloud Scheduler through
// Pub/Sub (CRED-6, CRED-8, AUDIT-3, DATA-2). Locally `gatehouse serve`
// mounts its HTTP form at /rotate and `gatehouse rotate` runs it from the
// command line.
//
// One run at a time holds a lease row; a crashed run's lease expires and
// the redelivered message resumes its run where it stopped. Every task is
// idempotent: a second run of the same message changes nothing.
package rotate

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/gatehouse-dev/gatehouse/shared/bootstrap"
	"github.com/gatehouse-dev/gatehouse/shared/config"
	"github.com/gatehouse-dev/gatehouse/shared/dnsproof"
	"github.com/gatehouse-dev/gatehouse/shared/envelope"
	"github.com/gatehouse-dev/gatehouse/shared/eventhooks"
	"github.com/gatehouse-dev/gatehouse/shared/outbound"
	"github.com/gatehouse-dev/gatehouse/shared/outbox"
	"github.com/gatehouse-dev/gatehouse/shared/store"
	"github.com/gatehouse-dev/gatehouse/shared/token"
)

func init() {
	bootstrap.CloudEvent("Rotate", func(d *bootstrap.Deps, l *config.Loader) (func(context.Context, event.Event) error, error) {
		r, err := New(d, LoadConfig(l))
		if err != nil {
			return nil, err
		}
		return r.HandleEvent, nil
	})
}

// Config holds the function's own settings.
type Config struct {
	DataKeyPeriod    time.Duration // a new primary data key when the current one is this old
	SigningKeyPeriod time.Duration // a new token-signing key when the newest is this old
	CredentialGrace  time.Duration // revoked or invalid credentials keep their ciphertext this long
	BatchSize        int           // sealed values re-encrypted per transaction
	LeaseTTL         time.Duration // how long a run's lease lasts unless renewed
	MaxMessageAge    time.Duration // older Pub/Sub messages are dropped, not run
	// KeyPrimaryTTL is how long any instance may go on sealing under a
	// demoted data key (envelope.Options.PrimaryTTL; the functions use the
	// envelope default). A demoted key is never destroyed before it.
	KeyPrimaryTTL time.Duration
	// DestroyDelay is how long a scheduled run leaves a demoted data key
	// before destroying it, so that short-lived ciphertexts kept outside
	// the database (OAuth state, at most 10 minutes) still open. A
	// suspected exposure waits only KeyPrimaryTTL.
	DestroyDelay time.Duration
	// EventWebhookSecret signs the event webhooks (docs/events.md), which
	// the outbox task delivers to the base configuration's
	// EventWebhooks; EventWebhookMaxAttempts attempts make one dead.
	EventWebhookSecret      config.Secret
	EventWebhookMaxAttempts int
}

// LoadConfig reads the function's settings, recording problems in l.
func LoadConfig(l *config.Loader) Config {
	c := Config{
		DataKeyPeriod:    l.Duration("GATEHOUSE_ROTATE_DATA_KEY_PERIOD", 30*24*time.Hour),
		SigningKeyPeriod: l.Duration("GATEHOUSE_ROTATE_SIGNING_KEY_PERIOD", 24*time.Hour),
		CredentialGrace:  l.Duration("GATEHOUSE_ROTATE_CREDENTIAL_GRACE", 7*24*time.Hour),
		BatchSize:        l.Int("GATEHOUSE_ROTATE_BATCH_SIZE", 500),
		LeaseTTL:         l.Duration("GATEHOUSE_ROTATE_LEASE_TTL", 10*time.Minute),
		MaxMessageAge:    l.Duration("GATEHOUSE_ROTATE_MAX_MESSAGE_AGE", 6*time.Hour),
		KeyPrimaryTTL:    time.Minute,
		DestroyDelay:     l.Duration("GATEHOUSE_ROTATE_DESTROY_DELAY", 15*time.Minute),

		EventWebhookSecret:      l.OptionalSecret("GATEHOUSE_EVENT_WEBHOOK_SECRET"),
		EventWebhookMaxAttempts: l.Int("GATEHOUSE_EVENT_WEBHOOK_MAX_ATTEMPTS", eventhooks.DefaultMaxAttempts),
	}
	if c.EventWebhookMaxAttempts < 1 || c.EventWebhookMaxAttempts > 100 {
		l.Fail("GATEHOUSE_EVENT_WEBHOOK_MAX_ATTEMPTS", "must be between 1 and 100")
	}
	if s := c.EventWebhookSecret; !s.IsZero() {
		if _, err := eventhooks.ParseSecret(s.Reveal()); err != nil {
			l.Fail("GATEHOUSE_EVENT_WEBHOOK_SECRET", "not a whsec_ secret (whsec_ and the base64 of 24 to 64 bytes)")
		}
	}
	for _, p := range []struct {
		name string
		v    time.Duration
	}{
		{"GATEHOUSE_ROTATE_DATA_KEY_PERIOD", c.DataKeyPeriod},
		{"GATEHOUSE_ROTATE_SIGNING_KEY_PERIOD", c.SigningKeyPeriod},
		{"GATEHOUSE_ROTATE_LEASE_TTL", c.LeaseTTL},
		{"GATEHOUSE_ROTATE_MAX_MESSAGE_AGE", c.MaxMessageAge},
	} {
		if p.v < time.Minute {
			l.Fail(p.name, "must be at least 1 minute")
		}
	}
	if c.DestroyDelay < c.KeyPrimaryTTL {
		l.Fail("GATEHOUSE_ROTATE_DESTROY_DELAY", "must be at least 1 minute")
	}
	if c.CredentialGrace < 0 {
		l.Fail("GATEHOUSE_ROTATE_CREDENTIAL_GRACE", "must not be negative")
	}
	if c.BatchSize < 1 || c.BatchSize > 10000 {
		l.Fail("GATEHOUSE_ROTATE_BATCH_SIZE", "must be between 1 and 10000")
	}
	return c
}

// Rotator runs rotation tasks. It is safe for concurrent use; the lease
// keeps runs apart.
type Rotator struct {
	d        *bootstrap.Deps
	cfg      Config
	store    store.Store
	kek      *countingKEK
	keyring  *envelope.Keyring // the Rotator's own, over kek, so reports count KMS calls
	columns  []store.SealedColumn
	purgers  []Purger
	retain   []Purger
	outbox   []Purger
	signing  func(context.Context) (SigningKeys, error)
	sessions SessionRevoker
	domains  DomainChecker
	now      func() time.Time
	rand     io.Reader
	closers  []func()
	ownOut   bool // WithOutbox was given
	hookHTTP eventhooks.Doer

	// Test seams: how a run waits, how often the lease is renewed, and a
	// hook after each re-encrypted batch.
	sleep      func(ctx context.Context, d time.Duration) error
	renewEvery time.Duration
	afterBatch func(batch int) error
}

// Option configures a Rotator beyond what [New] derives from its Deps.
type Option func(*Rotator)

// WithKEK makes the Rotator wrap data keys with kek instead of its Deps' KEK.
func WithKEK(kek envelope.KEK) Option { return func(r *Rotator) { r.kek = &countingKEK{inner: kek} } }

// WithSealedColumns replaces [store.SealedColumns] as the columns the
// reencrypt task moves to the primary key.
func WithSealedColumns(cols []store.SealedColumn) Option {
	return func(r *Rotator) { r.columns = append([]store.SealedColumn(nil), cols...) }
}

// WithPurgers replaces the purgers the purge task runs.
func WithPurgers(ps ...Purger) Option { return func(r *Rotator) { r.purgers = ps } }

// WithRetention replaces the purgers the retention task runs after the
// audit log (billing records and other long-retention data).
func WithRetention(ps ...Purger) Option { return func(r *Rotator) { r.retain = ps } }

// WithOutbox replaces the republishers the outbox task runs.
func WithOutbox(ps ...Purger) Option { return func(r *Rotator) { r.outbox, r.ownOut = ps, true } }

// WithEventHookClient sets the client event webhooks are sent through
// (tests: outboundtest's), instead of the outbound client.
func WithEventHookClient(c eventhooks.Doer) Option { return func(r *Rotator) { r.hookHTTP = c } }

// WithSigningKeys sets the token-signing keys the signing-keys task rotates.
func WithSigningKeys(s SigningKeys) Option {
	return func(r *Rotator) { r.signing = func(context.Context) (SigningKeys, error) { return s, nil } }
}

// WithSessions sets how a suspected exposure revokes sessions.
func WithSessions(s SessionRevoker) Option { return func(r *Rotator) { r.sessions = s } }

// New returns a Rotator on d. Its own keyring wraps data keys with d.KEK
// (or the [WithKEK] one), counting every call so reports say what a run
// cost in KMS requests; [Rotator.Close] releases what New opened.
func New(d *bootstrap.Deps, cfg Config, opts ...Option) (*Rotator, error) {
	if d == nil || d.Store == nil || d.Keyring == nil || d.Audit == nil || d.Logger == nil {
		return nil, errors.New("rotate: New needs a store, a keyring, an audit log and a logger")
	}
	if cfg.BatchSize < 1 || cfg.LeaseTTL <= 0 || cfg.KeyPrimaryTTL <= 0 {
		return nil, errors.New("rotate: configuration not loaded (batch size, lease TTL and key primary TTL must be positive)")
	}
	r := &Rotator{d: d, cfg: cfg, store: d.Store, columns: store.SealedColumns(), now: d.Now, rand: d.Rand,
		sleep: sleepContext, renewEvery: cfg.LeaseTTL / 3}
	if r.now == nil {
		r.now = time.Now
	}
	if r.rand == nil {
		r.rand = rand.Reader
	}
	r.purgers, r.retain, r.outbox = defaultPurgers(d.Store, cfg), defaultRetention(d.Store), nil
	r.sessions = storeSessions{d.Store}
	r.signing = r.tokenSigner
	for _, o := range opts {
		o(r)
	}
	if r.domains == nil {
		res, err := dnsproof.NewResolver(d.Config.DNSResolver)
		if err != nil {
			return nil, fmt.Errorf("rotate: %w", err)
		}
		r.domains = res
	}
	if err := r.openKeyring(); err != nil {
		r.Close()
		return nil, err
	}
	if !r.ownOut {
		if err := r.openOutbox(); err != nil {
			r.Close()
			return nil, err
		}
	}
	if err := r.openEventHooks(); err != nil {
		r.Close()
		return nil, err
	}
	for _, c := range r.columns {
		if _, err := purposeOf(c); err != nil || !c.Valid() {
			r.Close()
			return nil, fmt.Errorf("rotate: sealed column %s is not a valid entry", c.Field())
		}
	}
	return r, nil
}

// Close releases what New opened.
func (r *Rotator) Close() {
	for i := len(r.closers) - 1; i >= 0; i-- {
		r.closers[i]()
	}
	r.closers = nil
}

func (r *Rotator) openKeyring() error {
	if r.kek == nil {
		if r.d.KEK == nil {
			return errors.New("rotate: no key-encryption key in the dependencies")
		}
		r.kek = &countingKEK{inner: r.d.KEK}
	}
	kr, err := envelope.New(r.store, r.kek, envelope.Options{Now: r.now, Rand: r.rand, PrimaryTTL: r.cfg.KeyPrimaryTTL,
		Events: r.d.Events})
	if err != nil {
		return fmt.Errorf("rotate: keyring: %w", err)
	}
	r.keyring = kr
	return nil
}

// purposeOf maps a registry purpose name to its envelope purpose.
func purposeOf(c store.SealedColumn) (envelope.Purpose, error) {
	switch c.Purpose {
	case "credential":
		return envelope.PurposeCredential, nil
	case "totp":
		return envelope.PurposeTOTP, nil
	case "oauth-state":
		return envelope.PurposeOAuthState, nil
	case "signing-key":
		return envelope.PurposeSigningKey, nil
	case "audit-checkpoint":
		return envelope.PurposeAuditCheckpoint, nil
	}
	return "", fmt.Errorf("sealed column %s: unknown purpose %q", c.Field(), c.Purpose)
}

// sleepContext waits d or until ctx ends.
func sleepContext(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// openOutbox sets up the outbox republisher: deployed with a project, a
// Pub/Sub relay; locally none (messages stay in the outbox).
func (r *Rotator) openOutbox() error {
	if !r.d.Config.Env.Deployed() || r.d.Config.ProjectID == "" {
		return nil
	}
	p, err := outbox.NewPubSub(context.Background(), r.d.Config.ProjectID)
	if err != nil {
		return fmt.Errorf("rotate: outbox publisher: %w", err)
	}
	r.closers = append(r.closers, func() { p.Close() })
	relay := outbox.NewRelay(r.store, p, r.d.Logger, outbox.Options{Now: r.now})
	r.outbox = []Purger{PurgeFunc("republished", func(ctx context.Context, _ time.Time) (int64, error) {
		rep, err := relay.Sweep(ctx, outboxSweepLimit)
		return int64(rep.Published), err
	})}
	return nil
}

// outboxSweepLimit bounds the messages one run republishes.
const outboxSweepLimit = 1000

// eventHookLimit bounds the event webhooks one run attempts: at the
// deliverer's default 8 at a time and 15 s each at worst, well inside the
// function's 540 s timeout.
const eventHookLimit = 200

// openEventHooks adds the event webhook deliverer to the outbox task when
// endpoints are configured (also beside [WithOutbox]'s republishers). Without a signing secret it is a start
// failure in staging and prod; in dev the deliveries wait in the store
// (gatehouse serve generates a secret).
func (r *Rotator) openEventHooks() error {
	base := r.d.Config
	if len(base.EventWebhooks) == 0 {
		return nil
	}
	if r.cfg.EventWebhookSecret.IsZero() {
		if base.Env.Deployed() {
			return errors.New("rotate: GATEHOUSE_EVENT_WEBHOOK_URLS needs GATEHOUSE_EVENT_WEBHOOK_SECRET")
		}
		r.d.Logger.Warn("event webhooks configured without GATEHOUSE_EVENT_WEBHOOK_SECRET: deliveries wait in the store")
		return nil
	}
	client := r.hookHTTP
	if client == nil {
		client = outbound.New(outbound.Options{Timeout: eventhooks.DefaultTimeout, MaxResponse: 64 << 10})
		if !base.Env.Deployed() {
			client = eventhooks.DevClient(client, eventhooks.DefaultTimeout)
		}
	}
	o := eventhooks.Options{Endpoints: base.EventWebhooks, MaxAttempts: r.cfg.EventWebhookMaxAttempts, Now: r.now}
	if m := r.d.Telemetry; m != nil && m.Metrics != nil {
		o.Observe = m.Metrics.EventDelivery
	}
	hooks, err := eventhooks.New(r.store, client, r.cfg.EventWebhookSecret, r.d.Logger, o)
	if err != nil {
		return fmt.Errorf("rotate: event webhooks: %w", err)
	}
	r.outbox = append(r.outbox, PurgeFunc("webhooks_delivered", func(ctx context.Context, _ time.Time) (int64, error) {
		rep, err := hooks.Run(ctx, eventHookLimit)
		return int64(rep.Delivered), err
	}))
	return nil
}

// tokenSigner opens the access-token signer over the store, as the auth
// function does; Rotate and Purge need only its key set and TTL (the
// longest, token.MaxTTL, unless the auth function's is configured here).
func (r *Rotator) tokenSigner(ctx context.Context) (SigningKeys, error) {
	issuer := "gatehouse"
	if u := r.d.Config.PublicURL; u != nil {
		issuer = u.String()
	}
	s, err := token.NewSigner(ctx, r.store, r.keyring, token.Options{Issuer: issuer, Now: r.now, Rand: r.rand, Events: r.d.Events})
	if err != nil {
		return nil, fmt.Errorf("open token signer: %w", err)
	}
	return s, nil
}
