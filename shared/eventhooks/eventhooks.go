// Package eventhooks delivers the events Gatehouse emits (docs/events.md)
// to the SaaS's own endpoints as Standard Webhooks
// (https://www.standardwebhooks.com): each pending [store.EventDelivery],
// written with the change its event announces, is POSTed with the
// webhook-id (the event id, stable across retries), webhook-timestamp and
// webhook-signature headers, retried with exponential backoff and full
// jitter, and marked dead after a bounded number of attempts; an operator
// can send a dead delivery again through the admin API.
//
// Every request goes through the SSRF-safe outbound client (APP-7). Each
// attempt is leased in the store first, so deliverers running at once
// never send one delivery twice at the same time.
package eventhooks

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/gatehouse-dev/gatehouse/shared/logging"
	"github.com/gatehouse-dev/gatehouse/shared/store"
)

// Defaults of [Options].
const (
	DefaultMaxAttempts = 20
	DefaultBaseDelay   = 30 * time.Second
	DefaultMaxDelay    = 12 * time.Hour
	DefaultTimeout     = 15 * time.Second
	DefaultWorkers     = 8
	DefaultGiveUpAfter = 3
)

// maxErrorBody bounds what is read of a refused delivery's response: a
// few hundred bytes explain a refusal, and reading no more keeps a hostile
// endpoint from making the deliverer download anything large.
const maxErrorBody = 512

// Doer sends one request. [*outbound.Client] is the production Doer.
type Doer interface {
	Do(req *http.Request) (*http.Response, error)
}

// Options configure a [Deliverer]. Zero values take defaults.
type Options struct {
	// Endpoints are the URLs currently configured. A delivery to any other
	// URL (an endpoint since removed from the configuration) is dead.
	Endpoints []string
	// MaxAttempts is how many attempts a delivery gets before it is dead
	// (default [DefaultMaxAttempts]).
	MaxAttempts int
	// BaseDelay and MaxDelay shape the backoff: after attempt n the next
	// is due after a uniformly random delay in [0, min(MaxDelay,
	// BaseDelay·2^(n-1))] (full jitter).
	BaseDelay, MaxDelay time.Duration
	// Timeout bounds one attempt (default [DefaultTimeout]); the lease of
	// an attempt is twice as long, so no other deliverer takes it while it
	// can still be running.
	Timeout time.Duration
	// Workers is how many deliveries are attempted at once (default
	// [DefaultWorkers]).
	Workers int
	// GiveUpAfter failed attempts in a row to one endpoint make a run
	// leave that endpoint's other due deliveries untried (Deferred; their
	// attempts are not counted), so a down endpoint costs a run a few
	// timeouts, not one per delivery (default [DefaultGiveUpAfter]).
	GiveUpAfter int
	Now         func() time.Time  // default time.Now
	Jitter      func(int64) int64 // a uniform int64 in [0, n); default math/rand/v2
	// Observe, if set, is called with each attempt's outcome: delivered,
	// retry or dead (metrics).
	Observe func(ctx context.Context, outcome string)
}

// Deliverer sends due deliveries. It is safe for concurrent use, and any
// number of Deliverers may run against one store at once.
type Deliverer struct {
	store  store.EventDeliveries
	client Doer
	hook   *standardwebhooks.Webhook
	logger *slog.Logger
	o      Options
}

// ErrSecret means the signing secret is not a Standard Webhooks secret.
var ErrSecret = errors.New("eventhooks: the signing secret must be whsec_ followed by the base64 of 24 to 64 bytes")

// ParseSecret checks that secret is a Standard Webhooks signing secret,
// whsec_ and the base64 of 24 to 64 random bytes, and returns the signer.
func ParseSecret(secret string) (*standardwebhooks.Webhook, error) {
	raw, ok := strings.CutPrefix(secret, "whsec_")
	if !ok {
		return nil, ErrSecret
	}
	key, err := base64Decode(raw)
	if err != nil || len(key) < 24 || len(key) > 64 {
		return nil, ErrSecret
	}
	return standardwebhooks.NewWebhookRaw(key)
}

// New returns a Deliverer that sends through client and signs with
// secret (see [ParseSecret]).
func New(s store.EventDeliveries, client Doer, secret logging.Secret, logger *slog.Logger, o Options) (*Deliverer, error) {
	hook, err := ParseSecret(secret.Reveal())
	if err != nil {
		return nil, err
	}
	if client == nil {
		return nil, errors.New("eventhooks: no HTTP client")
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = DefaultMaxAttempts
	}
	if o.BaseDelay <= 0 {
		o.BaseDelay = DefaultBaseDelay
	}
	if o.MaxDelay <= 0 {
		o.MaxDelay = DefaultMaxDelay
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Workers <= 0 {
		o.Workers = DefaultWorkers
	}
	if o.GiveUpAfter <= 0 {
		o.GiveUpAfter = DefaultGiveUpAfter
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Jitter == nil {
		o.Jitter = rand.Int64N
	}
	return &Deliverer{store: s, client: client, hook: hook, logger: logger, o: o}, nil
}

// Report says what one [Deliverer.Run] did.
type Report struct {
	Delivered int // accepted with a 2xx
	Retrying  int // failed, due again later
	Dead      int // failed for the last time, or to an endpoint no longer configured
	Skipped   int // due deliveries another deliverer took first
	Deferred  int // due deliveries not tried: their endpoint failed GiveUpAfter times in a row in this run
}

// Run attempts up to limit due deliveries, Workers at a time. A failed
// attempt is recorded on its delivery, not returned: the error is non-nil
// only when the deliveries could not be read or recorded, or ctx ended.
// After GiveUpAfter failures in a row to one endpoint, the run leaves that
// endpoint's remaining deliveries for the next run.
func (d *Deliverer) Run(ctx context.Context, limit int) (Report, error) {
	due, err := d.store.DueEventDeliveries(ctx, d.o.Now(), limit)
	if err != nil {
		return Report{}, fmt.Errorf("deliver events: %w", err)
	}
	var (
		mu     sync.Mutex
		rep    Report
		errs   []error
		wg     sync.WaitGroup
		next   = make(chan store.EventDelivery)
		inARow = map[string]int{} // failed attempts in a row, per configured endpoint
	)
	for range min(d.o.Workers, len(due)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for dv := range next {
				mu.Lock()
				down := inARow[dv.Endpoint] >= d.o.GiveUpAfter
				if down {
					rep.Deferred++
				}
				mu.Unlock()
				if down {
					continue
				}
				state, err := d.attempt(ctx, dv)
				mu.Lock()
				rep.count(state)
				switch {
				case err != nil:
					errs = append(errs, err)
				case state == store.DeliveryDelivered:
					inARow[dv.Endpoint] = 0
				case state != "" && slices.Contains(d.o.Endpoints, dv.Endpoint):
					inARow[dv.Endpoint]++
				}
				mu.Unlock()
			}
		}()
	}
	for _, dv := range due {
		if ctx.Err() != nil {
			break
		}
		next <- dv
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return rep, fmt.Errorf("deliver events: %w", err)
	}
	return rep, nil
}

func (r *Report) count(state store.DeliveryState) {
	switch state {
	case store.DeliveryDelivered:
		r.Delivered++
	case store.DeliveryPending:
		r.Retrying++
	case store.DeliveryDead:
		r.Dead++
	default:
		r.Skipped++
	}
}

// attempt leases dv, sends it and records the result. It returns the
// state the delivery ends the attempt in, "" when it was not attempted.
func (d *Deliverer) attempt(ctx context.Context, dv store.EventDelivery) (store.DeliveryState, error) {
	now := d.o.Now()
	dv, err := d.store.LeaseEventDelivery(ctx, dv.ID, now, now.Add(2*d.o.Timeout))
	if errors.Is(err, store.ErrUsed) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	var status int
	if slices.Contains(d.o.Endpoints, dv.Endpoint) {
		status, err = d.send(ctx, dv)
	} else {
		err = errEndpointGone
	}
	res := d.result(dv, status, err)
	if err := d.store.FinishEventDelivery(ctx, dv.ID, dv.Attempts, res); err != nil {
		if errors.Is(err, store.ErrUsed) {
			return "", nil
		}
		return "", err
	}
	if res.State != store.DeliveryDelivered {
		d.logger.WarnContext(ctx, "event delivery failed", "delivery_id", dv.ID, "event_id", dv.EventID,
			"attempt", dv.Attempts, "state", string(res.State), "status", status, "error", res.Error)
	}
	if d.o.Observe != nil {
		d.o.Observe(ctx, outcome(res.State))
	}
	return res.State, nil
}

var errEndpointGone = errors.New("endpoint no longer configured")

// maxErrorText bounds the error kept on a delivery (and shown to
// operators).
const maxErrorText = 300

func outcome(s store.DeliveryState) string {
	if s == store.DeliveryPending {
		return "retry"
	}
	return string(s)
}

// result is the outcome of attempt dv.Attempts, which answered status (0
// when no answer came) or failed with err.
func (d *Deliverer) result(dv store.EventDelivery, status int, err error) store.DeliveryResult {
	now := d.o.Now()
	r := store.DeliveryResult{At: now, Status: status}
	switch {
	case err == nil:
		r.State = store.DeliveryDelivered
		return r
	case errors.Is(err, errEndpointGone) || dv.Attempts >= d.o.MaxAttempts:
		r.State = store.DeliveryDead
	default:
		r.State = store.DeliveryPending
		r.NextAttemptAt = now.Add(d.Backoff(dv.Attempts))
	}
	r.Error = err.Error()
	if len(r.Error) > maxErrorText {
		r.Error = r.Error[:maxErrorText]
	}
	return r
}

// Backoff is the delay after failed attempt n (1 for the first): full
// jitter over BaseDelay·2^(n-1), capped at MaxDelay.
func (d *Deliverer) Backoff(n int) time.Duration {
	ceiling := d.o.MaxDelay
	if n-1 < 40 {
		if c := d.o.BaseDelay << (n - 1); c > 0 && c < ceiling {
			ceiling = c
		}
	}
	return time.Duration(d.o.Jitter(int64(ceiling) + 1))
}

// send POSTs dv's body to its endpoint, signed, and returns the status.
// Only a 2xx answer is a success; the response body is drained up to a
// small bound and never kept.
func (d *Deliverer) send(ctx context.Context, dv store.EventDelivery) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, d.o.Timeout)
	defer cancel()
	at := d.o.Now()
	sig, err := d.hook.Sign(dv.EventID, at, []byte(dv.Body))
	if err != nil {
		return 0, fmt.Errorf("sign: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, dv.Endpoint, strings.NewReader(dv.Body))
	if err != nil {
		return 0, errors.New("unusable endpoint URL")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Gatehouse-Webhooks/1")
	req.Header.Set(standardwebhooks.HeaderWebhookID, dv.EventID)
	req.Header.Set(standardwebhooks.HeaderWebhookTimestamp, strconv.FormatInt(at.Unix(), 10))
	req.Header.Set(standardwebhooks.HeaderWebhookSignature, sig)
	resp, err := d.client.Do(req)
	if err != nil {
		return 0, requestError(err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		// The status code only: the reason phrase is the endpoint's text.
		return resp.StatusCode, fmt.Errorf("endpoint answered %d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
	}
	return resp.StatusCode, nil
}

// requestError drops the URL from a transport error: an endpoint's query
// string may carry the SaaS's own credential, which is kept out of the
// store and the logs.
func requestError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("request failed: %w", ue.Err)
	}
	return fmt.Errorf("request failed: %w", err)
}

// base64Decode accepts standard base64 with or without padding, as
// secrets are written either way.
func base64Decode(s string) ([]byte, error) {
	if b, err := base64.StdEncoding.DecodeString(s); err == nil {
		return b, nil
	}
	return base64.RawStdEncoding.DecodeString(s)
}
