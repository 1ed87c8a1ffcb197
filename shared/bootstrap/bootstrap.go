// Package bootstrap assembles what every Gatehouse function runs on (logger,
// store, keyring, audit log, rate limiter, notifier) from the shared
// configuration: Cloud SQL, Cloud KMS, Secret Manager and Pub/Sub when
// deployed, embedded SQLite, a local key file and a mailbox file locally.
package bootstrap

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	kms "cloud.google.com/go/kms/apiv1"

	"github.com/gatehouse-dev/gatehouse/shared/audit"
	"github.com/gatehouse-dev/gatehouse/shared/config"
	"github.com/gatehouse-dev/gatehouse/shared/envelope"
	"github.com/gatehouse-dev/gatehouse/shared/envelope/filekek"
	"github.com/gatehouse-dev/gatehouse/shared/envelope/kmskek"
	"github.com/gatehouse-dev/gatehouse/shared/events"
	"github.com/gatehouse-dev/gatehouse/shared/logging"
	"github.com/gatehouse-dev/gatehouse/shared/notify"
	"github.com/gatehouse-dev/gatehouse/shared/outbound"
	"github.com/gatehouse-dev/gatehouse/shared/ratelimit"
	"github.com/gatehouse-dev/gatehouse/shared/store"
	"github.com/gatehouse-dev/gatehouse/shared/store/postgres"
	"github.com/gatehouse-dev/gatehouse/shared/store/sqlite"
	"github.com/gatehouse-dev/gatehouse/shared/telemetry"
	"github.com/gatehouse-dev/gatehouse/shared/web"
)

// Deps is what a function is built from. Tests build one by hand.
type Deps struct {
	Config  config.Base
	Logger  *slog.Logger
	Store   store.Store
	Keyring *envelope.Keyring
	KEK     envelope.KEK // what Keyring wraps data keys with; for jobs that build their own keyring view
	Audit   *audit.Log
	// Sequencer integrates the audit log; [Deps.StartSequencer] runs it in
	// the background (every function does), tests call its Integrate.
	Sequencer *audit.Sequencer
	Limiter   *ratelimit.Limiter
	Notifier  notify.Notifier
	// Telemetry records traces and metrics; bootstraptest gives a no-op one.
	Telemetry *telemetry.Telemetry
	// Events writes the events to the SaaS (docs/events.md) in the
	// transaction of each change; with no GATEHOUSE_EVENTS_TOPIC it writes none.
	Events *events.Emitter
	Now    func() time.Time
	Rand   io.Reader

	closers []func()
}

// Close releases what Open acquired, newest first.
func (d *Deps) Close() {
	for i := len(d.closers) - 1; i >= 0; i-- {
		d.closers[i]()
	}
	d.closers = nil
}

// FromEnv loads the shared configuration from the process environment
// (resolving sm:// references through Secret Manager) and opens everything.
// A GATEHOUSE_* variable that no function declares stops the start in
// staging and prod and is logged as a warning in dev, naming the closest
// declared variable.
// It returns the Loader so the function can read its own settings and check
// l.Err() before serving. The caller must Close the Deps.
func FromEnv(ctx context.Context) (*Deps, *config.Loader, error) {
	return FromLookup(ctx, os.LookupEnv)
}

// FromLookup is [FromEnv] with the variables read through lookup (the
// local server supplies defaults it only knows once it listens).
func FromLookup(ctx context.Context, lookup func(string) (string, bool)) (*Deps, *config.Loader, error) {
	l := config.NewLoader(ctx, lookup, &lazySecrets{ctx: ctx})
	base := config.LoadBase(l)
	rates := ratelimit.Load(l)
	unknown := l.CheckUnknown(os.Environ())
	if err := l.Err(); err != nil {
		return nil, nil, fmt.Errorf("configuration: %w", err)
	}
	logger := logging.New(os.Stdout, logging.Options{Level: base.LogLevel, ProjectID: base.ProjectID})
	LogClientAddressRule(ctx, logger, base)
	for _, w := range unknown {
		logger.Warn("unknown configuration variable ignored", "problem", w)
	}
	d, err := Open(ctx, base, logger)
	if err != nil {
		return nil, nil, err
	}
	d.Limiter.Use(rates)
	return d, l, nil
}

// LogClientAddressRule logs, at start, how client addresses (for rate
// limits, lockouts and audit events) are found: which
// GATEHOUSE_TRUSTED_PROXY_HOPS is in force.
func LogClientAddressRule(ctx context.Context, logger *slog.Logger, base config.Base) {
	logger.InfoContext(ctx, "client addresses: "+web.ClientIPRule(base.TrustedProxyHops),
		"trusted_proxy_hops", base.TrustedProxyHops)
}

// StoreFromEnv opens only the store the environment names (see
// config.LoadDatabase), for operator commands that need nothing else.
func StoreFromEnv(ctx context.Context) (store.Store, config.Base, error) {
	l := config.NewLoader(ctx, os.LookupEnv, &lazySecrets{ctx: ctx})
	base := config.LoadDatabase(l)
	if err := l.Err(); err != nil {
		return nil, base, fmt.Errorf("configuration: %w", err)
	}
	s, err := openStore(ctx, base)
	return s, base, err
}

// Open opens the store, keyring, notifier and the rest for base. Migrations
// are applied to SQLite (the local default); PostgreSQL is migrated by
// `gatehouse migrate`, run with an owner role, never by the functions.
func Open(ctx context.Context, base config.Base, logger *slog.Logger) (d *Deps, err error) {
	d = &Deps{Config: base, Logger: logger, Now: time.Now, Rand: rand.Reader}
	if d.Events, err = NewEmitter(base, d.Now, d.Rand); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			d.Close()
		}
	}()
	if err = openTelemetry(ctx, base, d); err != nil {
		return nil, fmt.Errorf("telemetry: %w", err)
	}
	if d.Store, err = openStore(ctx, base); err != nil {
		return nil, err
	}
	d.closers = append(d.closers, d.Store.Close)
	if d.KEK, err = openKEK(ctx, base, d); err != nil {
		return nil, err
	}
	if d.Notifier, err = openNotifier(ctx, base, d); err != nil {
		return nil, err
	}
	d.Limiter = ratelimit.New(d.Store, d.Now)
	// Instrument also builds the keyring, over the traced KEK.
	if err = d.Instrument(d.Telemetry); err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	d.Audit, d.Sequencer = NewAudit(base, d.Store, d.Keyring, logger, d.Now, d.Rand)
	logger.InfoContext(ctx, "dependencies opened", "env", string(base.Env), "secrets_generation", base.SecretsGeneration)
	return d, nil
}

// NewEmitter returns the event emitter of base: its topic, and its
// webhook endpoints, each of which the outbound client must be able to
// request (APP-7): an endpoint it would refuse stops the start rather
// than failing every delivery. In dev a plain-http loopback endpoint (a
// receiver on the developer's machine) is exempt.
func NewEmitter(base config.Base, now func() time.Time, rnd io.Reader) (*events.Emitter, error) {
	types, err := events.ParseKinds(base.EventWebhookTypes)
	if err != nil {
		return nil, fmt.Errorf("GATEHOUSE_EVENT_WEBHOOK_TYPES: %w", err)
	}
	e := &events.Emitter{Topic: base.EventsTopic, Env: string(base.Env), Now: now, Rand: rnd}
	client := outbound.New(outbound.Options{})
	for _, raw := range base.EventWebhooks {
		if !DevLoopback(base, raw) {
			if _, err := client.CheckURL(raw); err != nil {
				return nil, fmt.Errorf("GATEHOUSE_EVENT_WEBHOOK_URLS: %w", err)
			}
		}
		e.Webhooks = append(e.Webhooks, events.Endpoint{URL: raw, Types: types})
	}
	return e, nil
}

// DevLoopback reports whether raw is an endpoint on the developer's own
// machine that dev may reach outside the outbound client's rules.
func DevLoopback(base config.Base, raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && !base.Env.Deployed() && config.IsLoopbackHost(u.Hostname())
}

// NewAudit returns the audit log and its sequencer, which the log wakes on
// every event; the checkpoint-signing key is named for the public URL's
// host.
func NewAudit(base config.Base, s store.Store, kr *envelope.Keyring, logger *slog.Logger, now func() time.Time, rnd io.Reader) (*audit.Log, *audit.Sequencer) {
	host := ""
	if base.PublicURL != nil {
		host = base.PublicURL.Host
	}
	q := audit.NewSequencer(s, audit.NewSigner(s, kr, audit.Origin(host), rnd, now), logger, now)
	l := audit.New(s, logger, now)
	l.WakeOnRecord(q)
	return l, q
}

// StartSequencer runs the audit sequencer in the background until Close:
// every instance of every function integrates opportunistically, one at a
// time under the store lease (see docs/audit.md).
func (d *Deps) StartSequencer() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		d.Sequencer.Run(ctx)
	}()
	d.closers = append(d.closers, func() {
		cancel()
		<-done
	})
}

func openStore(ctx context.Context, base config.Base) (store.Store, error) {
	if base.UsesSQLite() {
		if err := os.MkdirAll(base.DataDir, 0o700); err != nil {
			return nil, fmt.Errorf("create data directory: %w", err)
		}
		return sqlite.Open(ctx, base.SQLitePath())
	}
	return postgres.Open(ctx, postgres.Options{URL: base.DBURL.Reveal(), Instance: base.DBInstance,
		User: base.DBUser, Database: base.DBName, MaxConns: int32(base.DBMaxConns)})
}

func openKEK(ctx context.Context, base config.Base, d *Deps) (envelope.KEK, error) {
	if base.KMSKey == "" {
		if base.Env.Deployed() {
			return nil, errors.New("a Cloud KMS key is required outside dev")
		}
		return filekek.Load(filepath.Join(base.DataDir, "kek.key"), d.Rand)
	}
	client, err := kms.NewKeyManagementClient(ctx)
	if err != nil {
		return nil, fmt.Errorf("Cloud KMS client: %w", err)
	}
	d.closers = append(d.closers, func() { client.Close() })
	return kmskek.New(client, base.KMSKey)
}

func openNotifier(ctx context.Context, base config.Base, d *Deps) (notify.Notifier, error) {
	switch {
	case base.NotifyTopic != "":
		p, err := notify.NewPubSub(ctx, base.ProjectID, base.NotifyTopic)
		if err != nil {
			return nil, fmt.Errorf("notifications: %w", err)
		}
		d.closers = append(d.closers, func() { p.Close() })
		return p, nil
	case !base.SMTPURL.IsZero():
		return notify.NewSMTP(base.SMTPURL.Reveal(), nil)
	default:
		return notify.NewMailbox(base.DataDir)
	}
}

// lazySecrets opens a Secret Manager client on first use, so a local run
// with no sm:// reference needs no Google credentials.
type lazySecrets struct {
	ctx    context.Context
	once   sync.Once
	client *config.SecretManager
	err    error
}

func (s *lazySecrets) Access(ctx context.Context, name string) ([]byte, error) {
	s.once.Do(func() { s.client, s.err = config.NewSecretManager(s.ctx) })
	if s.err != nil {
		return nil, s.err
	}
	return s.client.Access(ctx, name)
}
