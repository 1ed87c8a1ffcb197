package webhooks

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v85/webhook"

	"github.com/gatehouse-dev/gatehouse/shared/bootstrap/bootstraptest"
	"github.com/gatehouse-dev/gatehouse/shared/config"
	"github.com/gatehouse-dev/gatehouse/shared/logging"
	"github.com/gatehouse-dev/gatehouse/shared/store"
)

// Test secrets. Every one is planted in the log capture: a test fails if
// any is ever logged.
const (
	stripeSecret      = "whsec_test_current_4f9c2a61d0b7"
	stripeSecretOld   = "whsec_test_previous_81e3b5c4f2a9"
	stripeOtherSecret = "whsec_test_other_endpoint_5d6e7f"
	shopifySecret     = "shpss_test_secret_0a1b2c3d4e5f"
	billingTopic      = "projects/gatehouse-test/topics/billing"
	eventTopic        = "projects/gatehouse-test/topics/webhook-events"
)

// standardSecret is a Standard Webhooks secret: whsec_ + base64 of 32 bytes.
var standardSecret = "whsec_" + base64.StdEncoding.EncodeToString([]byte("standard-webhooks-test-key-32by!"))
var standardOtherSecret = "whsec_" + base64.StdEncoding.EncodeToString([]byte("another-source-s-key-of-32-bytes"))

// fakeSender records what would be published; fail, if set, decides
// whether a send fails.
type fakeSender struct {
	mu   sync.Mutex
	sent []store.OutboxMessage
	fail func(store.OutboxMessage) error
}

func (f *fakeSender) Send(_ context.Context, m store.OutboxMessage) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		if err := f.fail(m); err != nil {
			return err
		}
	}
	f.sent = append(f.sent, m)
	return nil
}

func (f *fakeSender) messages() []store.OutboxMessage {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]store.OutboxMessage(nil), f.sent...)
}

type testEnv struct {
	*bootstraptest.Env
	cfg    Config
	h      http.Handler
	sender *fakeSender
}

func secrets(values ...string) []config.Secret {
	var out []config.Secret
	for _, v := range values {
		out = append(out, logging.NewSecret(v))
	}
	return out
}

// newTestEnv builds the function on s with every receiver configured;
// mod, if not nil, changes the Config first.
func newTestEnv(t testing.TB, s store.Store, mod func(*Config)) *testEnv {
	t.Helper()
	env := bootstraptest.New(t, s)
	for _, v := range []string{stripeSecret, stripeSecretOld, stripeOtherSecret, shopifySecret, standardSecret, standardOtherSecret} {
		env.Logs.Plant(v)
	}
	sender := &fakeSender{}
	cfg := Config{
		StripeSecrets:   secrets(stripeSecret),
		ShopifySecrets:  secrets(shopifySecret),
		StandardSources: map[string][]config.Secret{"acme": secrets(standardSecret), "other": secrets(standardOtherSecret)},
		MaxBody:         defaultMaxBody,
		ShopifyMaxAge:   time.Hour,
		BillingTopic:    billingTopic,
		EventTopic:      eventTopic,
		Sender:          sender,
	}
	if mod != nil {
		mod(&cfg)
	}
	h, err := New(env.Deps, cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return &testEnv{Env: env, cfg: cfg, h: h, sender: sender}
}

// eachBackend runs fn on SQLite and on PostgreSQL.
func eachBackend(t *testing.T, fn func(t *testing.T, s store.Store)) {
	for _, b := range bootstraptest.Backends {
		t.Run(b.Name, func(t *testing.T) { fn(t, b.Open(t)) })
	}
}

func (e *testEnv) post(t testing.TB, path string, body []byte, hdr http.Header) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
	r.RemoteAddr = "203.0.113.7:4242"
	for k, vs := range hdr {
		r.Header[k] = vs
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	return w
}

// stripeHeader signs body with secret at time at, as Stripe does.
func stripeHeader(body []byte, secret string, at time.Time) http.Header {
	sp := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: body, Secret: secret, Timestamp: at})
	return http.Header{"Stripe-Signature": {sp.Header}}
}

// postStripe delivers body signed with the current secret at the clock's now.
func (e *testEnv) postStripe(t testing.TB, body []byte) *httptest.ResponseRecorder {
	t.Helper()
	return e.post(t, "/stripe", body, stripeHeader(body, stripeSecret, e.Clock.Now()))
}

// stripeEventBody is a Stripe event of type typ about object.
func stripeEventBody(id, typ string, created time.Time, object map[string]any) []byte {
	b, err := json.Marshal(map[string]any{
		"id": id, "object": "event", "api_version": "2026-03-25.dahlia", "created": created.Unix(),
		"livemode": false, "pending_webhooks": 1, "type": typ,
		"request": map[string]any{"id": nil, "idempotency_key": nil},
		"data":    map[string]any{"object": object},
	})
	if err != nil {
		panic(err)
	}
	return b
}

func checkoutObject(customer, org, sub string) map[string]any {
	return map[string]any{"id": "cs_test_" + customer, "object": "checkout.session", "mode": "subscription",
		"customer": customer, "subscription": sub, "client_reference_id": org,
		"metadata": map[string]any{"gatehouse_org": org}, "payment_status": "paid",
		"customer_details": map[string]any{"email": "payer@example.com", "name": "Pat Payer"}}
}

func subscriptionObject(id, customer, status, price string, periodEnd time.Time, cancel bool) map[string]any {
	return map[string]any{"id": id, "object": "subscription", "customer": customer, "status": status,
		"cancel_at_period_end": cancel, "created": periodEnd.Add(-30 * 24 * time.Hour).Unix(),
		"items": map[string]any{"object": "list", "data": []any{map[string]any{
			"id": "si_" + id, "object": "subscription_item", "current_period_end": periodEnd.Unix(),
			"price": map[string]any{"id": price, "object": "price", "product": "prod_gatehouse"},
		}}}}
}

func invoiceObject(id, customer, status string) map[string]any {
	return map[string]any{"id": id, "object": "invoice", "customer": customer, "status": status,
		"customer_email": "payer@example.com", "amount_paid": 4900}
}

// cardNumber appears in a payment method payload only to prove it is
// never stored or logged; Stripe itself never sends one.
const cardNumber = "4242424242424242"

func paymentMethodObject(id, customer, brand, last4 string) map[string]any {
	return map[string]any{"id": id, "object": "payment_method", "type": "card", "customer": customer,
		"billing_details": map[string]any{"email": "payer@example.com", "name": "Pat Payer",
			"address": map[string]any{"line1": "1 Secret Street", "postal_code": "94107"}},
		"card": map[string]any{"brand": brand, "last4": last4, "exp_month": 12, "exp_year": 2031,
			"fingerprint": "Xt5EWLLDS7FJjR1c", "funding": "credit", "number": cardNumber, "cvc": "123"}}
}

// auditActions counts the audit events by action.
func auditActions(t testing.TB, s store.Store) map[string]int {
	t.Helper()
	evs, err := s.AuditEvents(context.Background(), 0, 100000)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, e := range evs {
		out[e.Action]++
	}
	return out
}

func decodeJSON(t testing.TB, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
