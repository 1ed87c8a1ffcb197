package webhooks

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/bootstrap/bootstraptest"
	"github.com/gatehouse-dev/gatehouse/shared/store"
)

// assertNothingWritten checks that rejected deliveries left no event, no
// billing state and no outbox message, only their audit events.
func assertNothingWritten(t *testing.T, e *testEnv, rejected int) {
	t.Helper()
	ctx := context.Background()
	if evs, err := e.Store.ListWebhookEvents(ctx, providerStripe, 10); err != nil || len(evs) != 0 {
		t.Fatalf("rejected deliveries recorded events: %+v, %v", evs, err)
	}
	if _, err := e.Store.BillingAccount(ctx, "cus_attack"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("rejected delivery wrote billing state: %v", err)
	}
	if due, _ := e.Store.DueOutbox(ctx, e.Clock.Now().Add(time.Hour), 10); len(due) != 0 || len(e.sender.messages()) != 0 {
		t.Fatalf("rejected delivery wrote or sent outbox messages: %+v", due)
	}
	if got := auditActions(t, e.Store); got["webhook.rejected"] != rejected || len(got) != 1 {
		t.Fatalf("audit actions = %v, want %d webhook.rejected only", got, rejected)
	}
}

// Every verification failure is a 400 with one generic body, an audit
// event, and nothing else written.
//
// Controls: HOOK-1, APP-5, APP-6, AUDIT-1
func TestStripeRejectsUnverified(t *testing.T) {
	eachBackend(t, func(t *testing.T, s store.Store) {
		e := newTestEnv(t, s, nil)
		now := e.Clock.Now()
		body := stripeEventBody("evt_attack", "customer.subscription.updated", now,
			subscriptionObject("sub_attack", "cus_attack", "active", "price_pro", now.Add(720*time.Hour), false))
		signed := stripeHeader(body, stripeSecret, now)
		oversized := append(body[:len(body)-1:len(body)-1], []byte(`,"pad":"`+strings.Repeat("x", defaultMaxBody)+`"}`)...)
		altered := []byte(strings.Replace(string(body), "price_pro", "price_free", 1))
		twoTimestamps := http.Header{"Stripe-Signature": {"t=" + strconv.FormatInt(now.Unix(), 10) + "," + signed.Get("Stripe-Signature")}}
		tests := []struct {
			name   string
			body   []byte
			header http.Header
			status int
			code   string
		}{
			{"no header", body, nil, 400, "invalid_signature"},
			{"malformed header", body, http.Header{"Stripe-Signature": {"garbage"}}, 400, "invalid_signature"},
			{"header without signature", body, http.Header{"Stripe-Signature": {"t=" + strconv.FormatInt(now.Unix(), 10)}}, 400, "invalid_signature"},
			{"two timestamps", body, twoTimestamps, 400, "invalid_signature"},
			{"wrong secret", body, stripeHeader(body, "whsec_attacker_guess_00000", now), 400, "invalid_signature"},
			{"another endpoint's secret", body, stripeHeader(body, stripeOtherSecret, now), 400, "invalid_signature"},
			{"old timestamp", body, stripeHeader(body, stripeSecret, now.Add(-301*time.Second)), 400, "invalid_signature"},
			{"future timestamp", body, stripeHeader(body, stripeSecret, now.Add(301*time.Second)), 400, "invalid_signature"},
			{"body altered after signing", altered, signed, 400, "invalid_signature"},
			{"oversized body", oversized, stripeHeader(oversized, stripeSecret, now), 413, "too_large"},
		}
		for _, raw := range [][]byte{[]byte(`{"hello":"world"}`), []byte("not json"), []byte(`[]`),
			[]byte(`{"id":"evt_x","object":"event","type":"customer.subscription.updated","created":1,"data":{"object":"str"}}`),
			stripeEventBody("evt_x", "invoice.paid", now, map[string]any{"object": "invoice", "id": 7}),
		} {
			tests = append(tests, struct {
				name   string
				body   []byte
				header http.Header
				status int
				code   string
			}{"JSON that is not an event: " + string(raw[:min(len(raw), 20)]), raw, stripeHeader(raw, stripeSecret, now), 400, "invalid_event"})
		}
		var generic string
		for i, tc := range tests {
			w := e.post(t, "/stripe", tc.body, tc.header)
			if w.Code != tc.status || !strings.Contains(w.Body.String(), `"code":"`+tc.code+`"`) {
				t.Fatalf("%s: %d %s, want %d %s", tc.name, w.Code, w.Body, tc.status, tc.code)
			}
			if tc.code == "invalid_signature" {
				if generic == "" {
					generic = w.Body.String()
				} else if w.Body.String() != generic {
					t.Fatalf("%s: body %s differs from %s: the client must not learn which check failed", tc.name, w.Body, generic)
				}
			}
			assertNothingWritten(t, e, i+1)
		}
	})
}

// The timestamp may be 300 s off either way, and no more.
//
// Controls: HOOK-1
func TestStripeTolerance(t *testing.T) {
	e := newTestEnv(t, bootstraptest.SQLite(t), nil)
	now := e.Clock.Now()
	for i, tc := range []struct {
		name   string
		offset time.Duration
		want   int
	}{
		{"300 s old", -300 * time.Second, 200},
		{"300 s ahead", 300 * time.Second, 200},
		{"301 s old", -301 * time.Second, 400},
		{"301 s ahead", 301 * time.Second, 400},
	} {
		body := stripeEventBody("evt_tol"+strconv.Itoa(i), "invoice.paid", now, invoiceObject("in_"+strconv.Itoa(i), "cus_1", "paid"))
		if w := e.post(t, "/stripe", body, stripeHeader(body, stripeSecret, now.Add(tc.offset))); w.Code != tc.want {
			t.Fatalf("%s: %d %s, want %d", tc.name, w.Code, w.Body, tc.want)
		}
	}
}

// During a secret roll both secrets verify; a header may carry a signature
// per secret.
//
// Controls: HOOK-1
func TestStripeSecretRoll(t *testing.T) {
	e := newTestEnv(t, bootstraptest.SQLite(t), func(c *Config) { c.StripeSecrets = secrets(stripeSecret, stripeSecretOld) })
	now := e.Clock.Now()
	body := func(i int) []byte {
		return stripeEventBody("evt_roll"+strconv.Itoa(i), "invoice.paid", now, invoiceObject("in_roll"+strconv.Itoa(i), "cus_1", "paid"))
	}
	both := func(b []byte) http.Header {
		old := stripeHeader(b, stripeSecretOld, now).Get("Stripe-Signature")
		cur := stripeHeader(b, stripeSecret, now).Get("Stripe-Signature")
		return http.Header{"Stripe-Signature": {old + "," + cur[strings.Index(cur, "v1="):]}}
	}
	for i, tc := range []struct {
		name   string
		header func([]byte) http.Header
	}{
		{"current secret", func(b []byte) http.Header { return stripeHeader(b, stripeSecret, now) }},
		{"previous secret", func(b []byte) http.Header { return stripeHeader(b, stripeSecretOld, now) }},
		{"two signatures", both},
	} {
		b := body(i)
		if w := e.post(t, "/stripe", b, tc.header(b)); w.Code != http.StatusOK {
			t.Fatalf("%s: %d %s", tc.name, w.Code, w.Body)
		}
	}
	single := newTestEnv(t, bootstraptest.SQLite(t), nil)
	b := body(9)
	if w := single.post(t, "/stripe", b, stripeHeader(b, stripeSecretOld, now)); w.Code != http.StatusBadRequest {
		t.Fatalf("retired secret accepted after the roll: %d", w.Code)
	}
}

// With no secret configured the route rejects everything, and the
// function still starts.
//
// Controls: APP-5
func TestReceiversFailClosedWithoutSecrets(t *testing.T) {
	e := newTestEnv(t, bootstraptest.SQLite(t), func(c *Config) {
		c.StripeSecrets, c.ShopifySecrets, c.StandardSources = nil, nil, nil
	})
	now := e.Clock.Now()
	body := stripeEventBody("evt_1", "invoice.paid", now, invoiceObject("in_1", "cus_1", "paid"))
	for _, tc := range []struct {
		name   string
		path   string
		header http.Header
		want   int
	}{
		{"stripe, even signed with some secret", "/stripe", stripeHeader(body, stripeSecret, now), 503},
		{"stripe, signed with the empty secret", "/stripe", stripeHeader(body, "", now), 503},
		{"shopify", "/shopify", shopifyHeaders(body, "", "orders/create", "shop.myshopify.com", "e1", now), 503},
		{"standard", "/standard/acme", nil, 404},
	} {
		if w := e.post(t, tc.path, body, tc.header); w.Code != tc.want {
			t.Fatalf("%s: %d %s, want %d", tc.name, w.Code, w.Body, tc.want)
		}
	}
	if evs, _ := e.Store.ListWebhookEvents(context.Background(), providerStripe, 10); len(evs) != 0 {
		t.Fatalf("unconfigured receiver recorded %d events", len(evs))
	}
}

// By default every rejected delivery is audited. With sampling turned on,
// a flood of forged deliveries from one network writes at most the
// configured number of audit events a minute; the next audited rejection
// counts the ones skipped; every forged delivery is still refused, and
// another network's rejections are audited as before.
//
// Controls: HOOK-1, AUDIT-1
func TestRejectionFloodIsSampled(t *testing.T) {
	body := []byte(`{"id":"evt_flood"}`)
	forged := http.Header{"Stripe-Signature": {"t=1,v1=00"}}
	from := func(e *testEnv, addr string) int {
		r := httptest.NewRequest(http.MethodPost, "/stripe", bytes.NewReader(body))
		r.RemoteAddr = addr
		r.Header = forged.Clone()
		w := httptest.NewRecorder()
		e.h.ServeHTTP(w, r)
		return w.Code
	}
	every := newTestEnv(t, bootstraptest.SQLite(t), nil)
	for range 30 {
		from(every, "203.0.113.7:4242")
	}
	if got := auditActions(t, every.Store)["webhook.rejected"]; got != 30 {
		t.Fatalf("default: %d of 30 rejections audited", got)
	}

	const perMinute = 10
	e := newTestEnv(t, bootstraptest.SQLite(t), func(c *Config) { c.RejectionAuditPerMinute = perMinute })
	for range 3 * perMinute {
		if code := from(e, "203.0.113.7:4242"); code != http.StatusBadRequest {
			t.Fatalf("forged delivery: %d", code)
		}
	}
	if got := auditActions(t, e.Store)["webhook.rejected"]; got != perMinute {
		t.Fatalf("%d rejections audited in the flood's first minute, want %d", got, perMinute)
	}
	if code := from(e, "198.51.100.9:1"); code != http.StatusBadRequest {
		t.Fatalf("forged delivery from another network: %d", code)
	}
	if got := auditActions(t, e.Store)["webhook.rejected"]; got != perMinute+1 {
		t.Fatalf("another network's rejection not audited: %d", got)
	}
	e.Clock.Advance(time.Minute)
	from(e, "203.0.113.7:4242")
	evs, err := e.Store.AuditEvents(context.Background(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	last := evs[len(evs)-1]
	if last.Action != "webhook.rejected" || !strings.Contains(string(last.Metadata), `"suppressed":20`) {
		t.Fatalf("next audited rejection: %s %s", last.Action, last.Metadata)
	}
}
