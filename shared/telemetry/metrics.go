package telemetry

import (
	"context"
	"errors"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// Metric names; docs/operations.md lists them with their units and
// attributes for dashboards. Cloud Monitoring shows each as
// workload.googleapis.com/NAME.
const (
	MetricSignIns        = "gatehouse.signin.attempts"
	MetricRefreshes      = "gatehouse.session.refreshes"
	MetricReuse          = "gatehouse.session.reuse_detections"
	MetricRateLimited    = "gatehouse.ratelimit.denials"
	MetricLockouts       = "gatehouse.lockouts"
	MetricWebhookEvents  = "gatehouse.webhook.events"
	MetricEventHooks     = "gatehouse.event.deliveries"
	MetricBrokerRefresh  = "gatehouse.broker.refreshes"
	MetricKMSCalls       = "gatehouse.kms.calls"
	MetricDataKeyCache   = "gatehouse.datakey.cache.lookups"
	MetricRotationItems  = "gatehouse.rotation.records"
	MetricRotationRuns   = "gatehouse.rotation.tasks"
	MetricRequestLatency = "http.server.request.duration"
)

// Metrics are the instruments Gatehouse records. Every attribute value is
// drawn from a set fixed by code or configuration (a route pattern, never
// a raw path; a limit name; a provider), so series stay bounded.
type Metrics struct {
	signIns, refreshes, reuse, rateLimited, lockouts   metric.Int64Counter
	webhookEvents, brokerRefresh, kmsCalls, cacheLooks metric.Int64Counter
	rotationItems, rotationRuns, eventHooks            metric.Int64Counter
	latency                                            metric.Float64Histogram
	cacheHit, cacheMiss                                []metric.AddOption
	requestAttrs                                       sync.Map // latencyKey -> []metric.RecordOption, see requestOptions
}

type latencyKey struct {
	route, method string
	status        int
}

// latencyBuckets are the OpenTelemetry semantic conventions' advice for
// http.server.request.duration, in seconds.
var latencyBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}

// NewMetrics creates the instruments on mp.
func NewMetrics(mp metric.MeterProvider) (*Metrics, error) {
	m := mp.Meter("github.com/gatehouse-dev/gatehouse/shared/telemetry")
	var errs []error
	counter := func(name, unit, desc string) metric.Int64Counter {
		c, err := m.Int64Counter(name, metric.WithUnit(unit), metric.WithDescription(desc))
		errs = append(errs, err)
		return c
	}
	x := &Metrics{
		signIns:       counter(MetricSignIns, "{attempt}", "Sign-in attempts by method and outcome."),
		refreshes:     counter(MetricRefreshes, "{refresh}", "Refresh-token presentations by outcome."),
		reuse:         counter(MetricReuse, "{detection}", "Rotated refresh tokens presented again: each revoked its session."),
		rateLimited:   counter(MetricRateLimited, "{denial}", "Requests denied by a rate limit, by limit."),
		lockouts:      counter(MetricLockouts, "{lockout}", "Accounts locked (or their lock extended) by failed sign-ins."),
		webhookEvents: counter(MetricWebhookEvents, "{event}", "Inbound webhook deliveries by provider and outcome."),
		brokerRefresh: counter(MetricBrokerRefresh, "{refresh}", "Provider token refreshes by the broker, by platform and outcome."),
		kmsCalls:      counter(MetricKMSCalls, "{call}", "Key-encryption-key calls (Cloud KMS or the local key) by operation and outcome."),
		cacheLooks:    counter(MetricDataKeyCache, "{lookup}", "Unwrapped data-key cache lookups by result (hit or miss)."),
		rotationItems: counter(MetricRotationItems, "{record}", "Records a rotation task processed, by task and kind."),
		rotationRuns:  counter(MetricRotationRuns, "{task}", "Rotation task runs by task and status."),
		eventHooks:    counter(MetricEventHooks, "{attempt}", "Event webhook attempts by outcome (delivered, retry, dead)."),
	}
	x.cacheHit = []metric.AddOption{attrs(attribute.String("result", "hit"))}
	x.cacheMiss = []metric.AddOption{attrs(attribute.String("result", "miss"))}
	var err error
	x.latency, err = m.Float64Histogram(MetricRequestLatency, metric.WithUnit("s"),
		metric.WithDescription("Duration of HTTP requests by route pattern, method and status."),
		metric.WithExplicitBucketBoundaries(latencyBuckets...))
	errs = append(errs, err)
	return x, errors.Join(errs...)
}

func attrs(kv ...attribute.KeyValue) metric.MeasurementOption {
	return metric.WithAttributeSet(attribute.NewSet(kv...))
}

// SignIn counts a sign-in attempt: method is the way (password,
// second_factor, or a completed sign-in's methods such as pwd+otp),
// outcome success or failure.
func (m *Metrics) SignIn(ctx context.Context, method, outcome string) {
	m.signIns.Add(ctx, 1, attrs(attribute.String("method", method), attribute.String("outcome", outcome)))
}

// Refresh counts a refresh-token presentation: rotated, grace (the
// concurrent-tab answer) or rejected.
func (m *Metrics) Refresh(ctx context.Context, outcome string) {
	m.refreshes.Add(ctx, 1, attrs(attribute.String("outcome", outcome)))
}

// ReuseDetected counts a rotated refresh token presented again.
func (m *Metrics) ReuseDetected(ctx context.Context) { m.reuse.Add(ctx, 1) }

// RateLimited counts a denial by limit.
func (m *Metrics) RateLimited(ctx context.Context, limit string) {
	m.rateLimited.Add(ctx, 1, attrs(attribute.String("limit", limit)))
}

// Lockout counts an account lock.
func (m *Metrics) Lockout(ctx context.Context) { m.lockouts.Add(ctx, 1) }

// WebhookEvent counts a delivery by provider (stripe, shopify,
// standard:<source>) and outcome (applied, duplicate, rejected, ...).
func (m *Metrics) WebhookEvent(ctx context.Context, provider, outcome string) {
	m.webhookEvents.Add(ctx, 1, attrs(attribute.String("provider", provider), attribute.String("outcome", outcome)))
}

// EventDelivery counts an attempt to deliver an event to a webhook
// endpoint of the SaaS by outcome: delivered, retry or dead.
func (m *Metrics) EventDelivery(ctx context.Context, outcome string) {
	m.eventHooks.Add(ctx, 1, attrs(attribute.String("outcome", outcome)))
}

// BrokerRefresh counts a provider token refresh by platform and outcome
// (success, failure).
func (m *Metrics) BrokerRefresh(ctx context.Context, platform, outcome string) {
	m.brokerRefresh.Add(ctx, 1, attrs(attribute.String("platform", platform), attribute.String("outcome", outcome)))
}

// KMSCall counts a KEK call by operation (wrap, unwrap) and outcome (ok,
// error).
func (m *Metrics) KMSCall(ctx context.Context, op, outcome string) {
	m.kmsCalls.Add(ctx, 1, attrs(attribute.String("operation", op), attribute.String("outcome", outcome)))
}

// DataKeyCache counts an unwrapped-data-key cache lookup.
func (m *Metrics) DataKeyCache(ctx context.Context, hit bool) {
	opts := m.cacheMiss
	if hit {
		opts = m.cacheHit
	}
	m.cacheLooks.Add(ctx, 1, opts...)
}

// Rotation counts a finished rotation task run by its status (done,
// skipped, failed) and what it processed, by kind (resealed, rewrapped,
// purged, ... as the task's report counts them).
func (m *Metrics) Rotation(ctx context.Context, task, status string, counts map[string]int64) {
	m.rotationRuns.Add(ctx, 1, attrs(attribute.String("task", task), attribute.String("status", status)))
	for kind, n := range counts {
		if n > 0 {
			m.rotationItems.Add(ctx, n, attrs(attribute.String("task", task), attribute.String("kind", kind)))
		}
	}
}

// Request records an HTTP request's duration by route pattern ("POST
// /login"; "unmatched" when no route matched), method and status.
func (m *Metrics) Request(ctx context.Context, route, method string, status int, d time.Duration) {
	m.latency.Record(ctx, d.Seconds(), m.requestOptions(route, method, status)...)
}

// requestOptions returns the latency histogram's attribute set for a
// (route, method, status), built once: all three are bounded, and building
// the set is most of a recording's cost on the hot path. The slice is
// shared: callers pass it on and never change it.
func (m *Metrics) requestOptions(route, method string, status int) []metric.RecordOption {
	k := latencyKey{route, method, status}
	if opts, ok := m.requestAttrs.Load(k); ok {
		return opts.([]metric.RecordOption)
	}
	opts, _ := m.requestAttrs.LoadOrStore(k, []metric.RecordOption{attrs(attribute.String("http.route", route),
		attribute.String("http.request.method", method), attribute.Int("http.response.status_code", status))})
	return opts.([]metric.RecordOption)
}
