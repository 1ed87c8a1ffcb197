package webhooks

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/envelope"
	"github.com/gatehouse-dev/gatehouse/shared/events"
	"github.com/gatehouse-dev/gatehouse/shared/events/eventstest"
	"github.com/gatehouse-dev/gatehouse/shared/store"
)

// shopifyHeaders are the headers of a Shopify delivery of body, signed with
// secret.
func shopifyHeaders(body []byte, secret, topic, shop, eventID string, at time.Time) http.Header {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return http.Header{
		"X-Shopify-Hmac-Sha256":  {base64.StdEncoding.EncodeToString(mac.Sum(nil))},
		"X-Shopify-Topic":        {topic},
		"X-Shopify-Shop-Domain":  {shop},
		"X-Shopify-Event-Id":     {eventID},
		"X-Shopify-Webhook-Id":   {"wh-" + eventID},
		"X-Shopify-Triggered-At": {at.UTC().Format(time.RFC3339Nano)},
		"X-Shopify-Api-Version":  {"2026-01"},
	}
}

// connectShop gives org an active Shopify connection for shop.
func connectShop(t *testing.T, e *testEnv, org, shop string) store.Connection {
	t.Helper()
	ctx, id := context.Background(), "conn_"+strings.Split(shop, ".")[0]
	ct, err := e.Keyring.Seal(ctx, envelope.PurposeCredential,
		envelope.Binding{Org: org, Record: id, Field: "connections.access_token"}, []byte("shpat_test_token"))
	if err != nil {
		t.Fatal(err)
	}
	c := store.Connection{ID: id, OrgID: org, Platform: store.PlatformShopify, Account: shop, Scopes: []string{"read_orders"},
		Status: store.ConnectionActive, AccessToken: ct, TokenType: "bearer", CreatedBy: "user_1", CreatedAt: e.Clock.Now()}
	if err := e.Store.CreateConnection(ctx, c); err != nil {
		t.Fatal(err)
	}
	return c
}

// Only a delivery whose HMAC matches the app secret over the raw body is
// processed; headers are validated; everything else is a 400 with nothing
// but the audit event written.
//
// Controls: HOOK-4, APP-5, APP-6
func TestShopifyRejectsUnverified(t *testing.T) {
	eachBackend(t, func(t *testing.T, s store.Store) {
		e := newTestEnv(t, s, nil)
		connectShop(t, e, "org_1", "acme.myshopify.com")
		now := e.Clock.Now()
		body := []byte(`{"id":820982911946154508,"email":"jon@example.com"}`)
		good := func() http.Header {
			return shopifyHeaders(body, shopifySecret, "orders/create", "acme.myshopify.com", "ev-1", now)
		}
		with := func(k, v string) http.Header { h := good(); h.Set(k, v); return h }
		without := func(k string) http.Header { h := good(); h.Del(k); return h }
		tests := []struct {
			name   string
			body   []byte
			header http.Header
			code   string
		}{
			{"no hmac", body, without("X-Shopify-Hmac-Sha256"), "invalid_signature"},
			{"hmac not base64", body, with("X-Shopify-Hmac-Sha256", "not base64!"), "invalid_signature"},
			{"hmac too short", body, with("X-Shopify-Hmac-Sha256", base64.StdEncoding.EncodeToString([]byte("short"))), "invalid_signature"},
			{"wrong secret", body, shopifyHeaders(body, "shpss_attacker", "orders/create", "acme.myshopify.com", "ev-1", now), "invalid_signature"},
			{"body altered", []byte(strings.Replace(string(body), "jon", "eve", 1)), good(), "invalid_signature"},
			{"hex instead of base64", body, with("X-Shopify-Hmac-Sha256", strings.Repeat("ab", 32)), "invalid_signature"},
			{"bad shop domain", body, with("X-Shopify-Shop-Domain", "acme.example.com"), "invalid_event"},
			{"no ids", body, without2(good(), "X-Shopify-Event-Id", "X-Shopify-Webhook-Id"), "invalid_event"},
			{"bad topic", body, with("X-Shopify-Topic", "../etc"), "invalid_event"},
			{"bad triggered-at", body, with("X-Shopify-Triggered-At", "yesterday"), "invalid_event"},
		}
		notJSON := []byte("not json")
		tests = append(tests, struct {
			name   string
			body   []byte
			header http.Header
			code   string
		}{"body not JSON", notJSON, shopifyHeaders(notJSON, shopifySecret, "orders/create", "acme.myshopify.com", "ev-2", now), "invalid_event"})
		for i, tc := range tests {
			w := e.post(t, "/shopify", tc.body, tc.header)
			if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), tc.code) {
				t.Fatalf("%s: %d %s, want 400 %s", tc.name, w.Code, w.Body, tc.code)
			}
			if got := auditActions(t, s); got["webhook.rejected"] != i+1 || got["webhook.event"] != 0 {
				t.Fatalf("%s: audit actions %v", tc.name, got)
			}
		}
		if evs, _ := s.ListWebhookEvents(context.Background(), providerShopify, 10); len(evs) != 0 {
			t.Fatalf("rejected deliveries recorded %d events", len(evs))
		}
	})
}

func without2(h http.Header, keys ...string) http.Header {
	for _, k := range keys {
		h.Del(k)
	}
	return h
}

// A verified delivery is deduplicated on its event id, applied only for a
// connected shop and only while fresh; app/uninstalled revokes the shop's
// connection.
//
// Controls: HOOK-2, HOOK-4, AUDIT-1
func TestShopifyDeliveries(t *testing.T) {
	eachBackend(t, func(t *testing.T, s store.Store) {
		e := newTestEnv(t, s, func(c *Config) { c.ShopifySecrets = secrets("shpss_retired_secret_99", shopifySecret) })
		conn := connectShop(t, e, "org_1", "acme.myshopify.com")
		ctx, now := context.Background(), e.Clock.Now()
		order := []byte(`{"id":1,"total_price":"10.00"}`)
		uninstall := []byte(`{"id":548380009,"domain":"acme.myshopify.com"}`)
		for _, tc := range []struct {
			name, topic, shop, id string
			body                  []byte
			at                    time.Time
			want                  ackBody
		}{
			{"order from a connected shop", "orders/create", "acme.myshopify.com", "ev-1", order, now, ackBody{Received: true, Status: "applied"}},
			{"redelivery", "orders/create", "acme.myshopify.com", "ev-1", order, now, ackBody{Received: true, Duplicate: true}},
			{"shop domain in upper case", "orders/create", "ACME.myshopify.com", "ev-2", order, now, ackBody{Received: true, Status: "applied"}},
			{"unknown shop", "orders/create", "other.myshopify.com", "ev-3", order, now, ackBody{Received: true, Status: "ignored"}},
			{"stale uninstall", "app/uninstalled", "acme.myshopify.com", "ev-4", uninstall, now.Add(-2 * time.Hour), ackBody{Received: true, Status: "stale"}},
		} {
			w := e.post(t, "/shopify", tc.body, shopifyHeaders(tc.body, shopifySecret, tc.topic, tc.shop, tc.id, tc.at))
			if got := ack(t, w, w.Body.String()); got != tc.want {
				t.Fatalf("%s: %+v, want %+v", tc.name, got, tc.want)
			}
		}
		if c, _ := s.Connection(ctx, "org_1", conn.ID); c.Status != store.ConnectionActive {
			t.Fatalf("stale uninstall revoked the connection")
		}
		w := e.post(t, "/shopify", uninstall, shopifyHeaders(uninstall, shopifySecret, "app/uninstalled", "acme.myshopify.com", "ev-5", now))
		if got := ack(t, w, w.Body.String()); got.Status != "applied" {
			t.Fatalf("uninstall: %+v", got)
		}
		if c, _ := s.Connection(ctx, "org_1", conn.ID); c.Status != store.ConnectionRevoked || c.StatusReason != "app_uninstalled" {
			t.Fatalf("connection after uninstall = %s %s", c.Status, c.StatusReason)
		}
		if _, err := s.ShopConnected(ctx, "acme.myshopify.com"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("shop still connected: %v", err)
		}
		if got := auditActions(t, s); got["webhook.event"] != 5 || got["credential.revoke"] != 1 {
			t.Fatalf("audit actions = %v", got)
		}
		due, err := s.DueOutbox(ctx, now.Add(time.Hour), 100)
		var revoked []string
		for _, m := range due {
			if m.Attributes["ce-type"] == "com.gatehouse.connection.revoked.v1" {
				revoked = append(revoked, m.Attributes["ce-subject"])
				if !strings.Contains(m.Data, `"reason":"app_uninstalled"`) || !strings.Contains(m.Data, `"org_id":"org_1"`) {
					t.Fatalf("connection.revoked %s", m.Data)
				}
			}
		}
		if err != nil || len(revoked) != 1 || revoked[0] != "connection/"+conn.ID {
			t.Fatalf("connection.revoked events %v, %v", revoked, err)
		}
		eventstest.Require(t, s, events.ConnectionRevoked, "connection/"+conn.ID,
			map[string]string{"connection_id": conn.ID, "org_id": "org_1", "provider": "shopify", "reason": "app_uninstalled"})
		sent := e.sender.messages()
		if len(sent) != 3 || sent[0].Topic != eventTopic || sent[0].ID != "shopify/ev-1" || !strings.Contains(sent[0].Data, `"total_price":"10.00"`) {
			t.Fatalf("published %+v; want ev-1, ev-2, ev-5 on the event topic with their payloads", sent)
		}
		ev, _ := s.WebhookEvent(ctx, providerShopify, "ev-1")
		if ev.Data != "{}" || ev.OrgID != "org_1" || ev.Subject != "acme.myshopify.com" {
			t.Fatalf("stored Shopify event %+v: the payload is published, not stored", ev)
		}
	})
}
