package webhooks

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v85/webhook"
)

var fuzzNow = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

// Controls: APP-6
func FuzzParseStripeEvent(f *testing.F) {
	for _, b := range [][]byte{
		stripeEventBody("evt_1", "checkout.session.completed", fuzzNow, checkoutObject("cus_A", "org_1", "sub_A")),
		stripeEventBody("evt_2", "customer.subscription.updated", fuzzNow, subscriptionObject("sub_A", "cus_A", "active", "price_1", fuzzNow, true)),
		stripeEventBody("evt_3", "invoice.payment_failed", fuzzNow, invoiceObject("in_1", "cus_A", "open")),
		stripeEventBody("evt_4", "payment_method.attached", fuzzNow, paymentMethodObject("pm_1", "cus_A", "visa", "4242")),
		stripeEventBody("evt_5", "customer.updated", fuzzNow, map[string]any{"object": "customer"}),
		[]byte(`{"id":"evt_6","object":"event","type":"invoice.paid","created":1,"data":{"object":{"object":"invoice","id":"in_1","customer":{"id":"cus_x"}}}}`),
		[]byte(`{"object":"event"}`), []byte(`null`), []byte(`{"data":{"object":[]}}`), []byte("\xff"),
	} {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		ev, err := parseStripeEvent(body)
		if err != nil {
			return
		}
		if !eventIDRE.MatchString(ev.ID) || !eventTypeRE.MatchString(ev.Type) || ev.Created.IsZero() {
			t.Fatalf("accepted an event with bad identity: %+v", ev)
		}
		u := ev.Update
		if ev.Known && u.Customer != "" && !stripeIDRE.MatchString(u.Customer) {
			t.Fatalf("accepted customer id %q", u.Customer)
		}
		if c := u.Card; c != nil && (!last4RE.MatchString(c.Last4) || !brandRE.MatchString(c.Brand)) {
			t.Fatalf("accepted card %+v", c)
		}
		if u.Org != "" && !orgIDRE.MatchString(u.Org) {
			t.Fatalf("accepted org %q", u.Org)
		}
		if _, err := encodeData(u); err != nil {
			t.Fatalf("accepted update cannot be stored: %v", err)
		}
	})
}

// stripeTimestamp must read the timestamp stripe-go signs with: whenever it
// succeeds, a v1 signature computed for that timestamp verifies.
//
// Controls: HOOK-1, APP-6
func FuzzStripeTimestamp(f *testing.F) {
	for _, h := range []string{"t=1495999758,v1=abc,v0=def", "t=1495999758", "garbage", "t=1,t=2,v1=aa",
		"v1=aa,t=99", "t=+5,v1=x", "t=-5", "t=", "=,=", "t=1=2,v1=aa", ""} {
		f.Add(h)
	}
	payload := []byte(`{"id":"evt_1"}`)
	f.Fuzz(func(t *testing.T, header string) {
		ts, err := stripeTimestamp(header)
		if err != nil {
			return
		}
		sig := hex.EncodeToString(webhook.ComputeSignature(ts, payload, stripeSecret))
		if err := webhook.ValidatePayloadIgnoringTolerance(payload, header+",v1="+sig, stripeSecret); err != nil {
			t.Fatalf("header %q: we read t=%d but stripe-go disagrees: %v", header, ts.Unix(), err)
		}
	})
}

// Controls: HOOK-4, APP-6
func FuzzVerifyShopify(f *testing.F) {
	body := []byte(`{"id":1}`)
	mac := hmac.New(sha256.New, []byte(shopifySecret))
	mac.Write(body)
	good := base64.StdEncoding.EncodeToString(mac.Sum(nil))
	f.Add(body, good)
	f.Add(body, "")
	f.Add([]byte("x"), good+"=")
	f.Add(body, hex.EncodeToString(mac.Sum(nil)))
	f.Fuzz(func(t *testing.T, body []byte, header string) {
		if verifyShopify(body, header, secrets(shopifySecret)) != nil {
			return
		}
		m := hmac.New(sha256.New, []byte(shopifySecret))
		m.Write(body)
		if header != base64.StdEncoding.EncodeToString(m.Sum(nil)) {
			t.Fatalf("accepted header %q for body %q", header, body)
		}
	})
}

// Controls: APP-6
func FuzzParseShopifyHeaders(f *testing.F) {
	f.Add("orders/create", "acme.myshopify.com", "ev-1", "2026-11-22T12:00:00.123456789Z")
	f.Add("app/uninstalled", "ACME.MYSHOPIFY.COM", "", "2026-11-22T12:00:00+01:00")
	f.Add("../x", "a.b", "id with space", "0000-01-01T00:00:00Z")
	f.Fuzz(func(t *testing.T, topic, shop, id, at string) {
		hd := http.Header{}
		hd.Set("X-Shopify-Topic", topic)
		hd.Set("X-Shopify-Shop-Domain", shop)
		hd.Set("X-Shopify-Event-Id", id)
		hd.Set("X-Shopify-Webhook-Id", "wh-1")
		hd.Set("X-Shopify-Triggered-At", at)
		sd, err := parseShopifyHeaders(hd)
		if err != nil {
			return
		}
		if !shopDomainRE.MatchString(sd.Shop) || !shopifyIDRE.MatchString(sd.ID) || !shopifyTopicRE.MatchString(sd.Topic) || sd.TriggeredAt.IsZero() {
			t.Fatalf("accepted %+v", sd)
		}
	})
}

// Controls: HOOK-4, APP-6
func FuzzStandardVerify(f *testing.F) {
	body := []byte(`{"type":"a.b"}`)
	h := standardHeaders(f, body, standardSecret, "msg_1", fuzzNow)
	f.Add(body, "msg_1", h.Get("Webhook-Timestamp"), h.Get("Webhook-Signature"))
	f.Add(body, "msg_1", "+1795000000", "v1,"+h.Get("Webhook-Signature"))
	f.Add(body, "", "x", "v2,abc v1")
	f.Add([]byte{}, "msg 1", "99999999999999999999", "v1,,,,")
	v, err := newStandardVerifier(secrets(standardSecret))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte, id, ts, sig string) {
		hd := http.Header{}
		hd.Set("Webhook-Id", id)
		hd.Set("Webhook-Timestamp", ts)
		hd.Set("Webhook-Signature", sig)
		gotID, gotTS, _, err := v.verify(body, hd, fuzzNow)
		if err != nil {
			return
		}
		want := standardHeaders(t, body, standardSecret, gotID, gotTS).Get("Webhook-Signature")
		if gotID != id || strconv.FormatInt(gotTS.Unix(), 10) != ts || !containsSignature(sig, want) {
			t.Fatalf("accepted id %q ts %q sig %q", id, ts, sig)
		}
	})
}

// containsSignature reports whether the space-separated header holds want.
func containsSignature(header, want string) bool {
	for i := 0; i+len(want) <= len(header); i++ {
		if header[i:i+len(want)] == want && (i == 0 || header[i-1] == ' ') {
			return true
		}
	}
	return false
}

// Controls: APP-6
func FuzzStandardPayloadType(f *testing.F) {
	for _, s := range []string{`{"type":"user.created","data":{}}`, `{}`, `{"type":null}`, `{"type":1}`, `[]`, `"x"`, "{\"type\":\"\xff\"}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		typ, err := standardPayloadType(body)
		if err == nil && typ != "" && !payloadTypeRE.MatchString(typ) {
			t.Fatalf("accepted type %q", typ)
		}
	})
}
