package webhooks

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gatehouse-dev/gatehouse/shared/audit"
	"github.com/gatehouse-dev/gatehouse/shared/config"
	"github.com/gatehouse-dev/gatehouse/shared/events"
	"github.com/gatehouse-dev/gatehouse/shared/store"
)

const providerShopify = "shopify"

var (
	errShopifyNoHMAC  = errors.New("no X-Shopify-Hmac-Sha256 header")
	errShopifyBadHMAC = errors.New("X-Shopify-Hmac-Sha256 does not match")

	shopDomainRE   = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,59}\.myshopify\.com$`)
	shopifyTopicRE = regexp.MustCompile(`^[a-z0-9_]{1,50}(/[a-z0-9_]{1,50}){1,2}$`)
	shopifyIDRE    = regexp.MustCompile(`^[A-Za-z0-9-]{1,100}$`)
)

// shopifyDelivery is what the Shopify headers say about a delivery. None of
// them is covered by the HMAC, so they are validated, and the staleness
// check they allow is a guard against late retries, not against replay:
// replay is stopped by the event-id claim.
type shopifyDelivery struct {
	Topic       string
	Shop        string
	ID          string // X-Shopify-Event-Id, or X-Shopify-Webhook-Id when absent
	TriggeredAt time.Time
}

// shopify answers POST /shopify.
func (h *handlers) shopify(w http.ResponseWriter, r *http.Request) error {
	if len(h.cfg.ShopifySecrets) == 0 {
		return errNotConfigured("Shopify")
	}
	body, err := h.readBody(w, r, providerShopify)
	if err != nil {
		return err
	}
	if err := verifyShopify(body, r.Header.Get("X-Shopify-Hmac-Sha256"), h.cfg.ShopifySecrets); err != nil {
		reason := reasonBadSignature
		if errors.Is(err, errShopifyNoHMAC) {
			reason = reasonNoSignature
		}
		return h.reject(r, providerShopify, reason, errRejected, err)
	}
	sd, err := parseShopifyHeaders(r.Header)
	if err == nil && (!utf8.Valid(body) || !isJSONObject(body) || !json.Valid(body)) {
		err = malformed("body is not a JSON object")
	}
	if err != nil {
		return h.reject(r, providerShopify, reasonMalformed, errMalformedEvent, err)
	}
	return h.deliver(w, r, delivery{
		event: store.WebhookEvent{Provider: providerShopify, ID: sd.ID, Type: sd.Topic, OccurredAt: sd.TriggeredAt},
		topic: h.cfg.EventTopic,
		apply: func(ctx context.Context, tx store.Store, e *store.WebhookEvent) (any, error) {
			return h.applyShopify(ctx, tx, r, sd, json.RawMessage(body), e)
		},
	})
}

// applyShopify records the delivery and, for a fresh delivery from a
// connected shop, applies it: app/uninstalled revokes the shop's connection.
// The payload is published, not stored.
func (h *handlers) applyShopify(ctx context.Context, tx store.Store, r *http.Request, sd shopifyDelivery, body json.RawMessage, e *store.WebhookEvent) (any, error) {
	now := h.d.Now()
	e.Subject = sd.Shop
	if now.Sub(sd.TriggeredAt) > h.cfg.ShopifyMaxAge {
		e.Status = store.WebhookStale
		return nil, nil
	}
	org, err := tx.ShopConnected(ctx, sd.Shop)
	if errors.Is(err, store.ErrNotFound) {
		e.Status = store.WebhookIgnored
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	e.OrgID, e.Status = org, store.WebhookApplied
	if sd.Topic == "app/uninstalled" {
		if err := h.revokeShop(ctx, tx, r, sd.Shop, now); err != nil {
			return nil, err
		}
	}
	return body, nil
}

// revokeShop marks the shop's connection revoked, audited in tx.
func (h *handlers) revokeShop(ctx context.Context, tx store.Store, r *http.Request, shop string, now time.Time) error {
	c, err := tx.RevokeShopConnection(ctx, shop, "app_uninstalled", now)
	if errors.Is(err, store.ErrNotFound) {
		return nil // revoked meanwhile: nothing left to do
	}
	if err != nil {
		return fmt.Errorf("revoke shop connection: %w", err)
	}
	_, err = h.d.Audit.RecordTx(ctx, tx, audit.Event{Actor: providerShopify, OrgID: c.OrgID, Action: "credential.revoke",
		Target: c.ID, Network: h.network(r), Metadata: map[string]any{"platform": store.PlatformShopify,
			"account": shop, "reason": "app_uninstalled"}})
	if err != nil {
		return err
	}
	return h.d.Events.Emit(ctx, tx, events.Connection(events.ConnectionRevoked,
		events.ConnectionData{ConnectionID: c.ID, OrgID: c.OrgID, Provider: store.PlatformShopify, Reason: "app_uninstalled"}))
}

// verifyShopify checks that header is the base64 HMAC-SHA256 of body under
// one of the app's secrets, comparing in constant time.
func verifyShopify(body []byte, header string, secrets []config.Secret) error {
	if header == "" {
		return errShopifyNoHMAC
	}
	got, err := base64.StdEncoding.Strict().DecodeString(header)
	if err != nil || len(got) != sha256.Size {
		return errShopifyBadHMAC
	}
	ok := false
	for _, s := range secrets {
		mac := hmac.New(sha256.New, []byte(s.Reveal()))
		mac.Write(body)
		if hmac.Equal(mac.Sum(nil), got) {
			ok = true
		}
	}
	if !ok {
		return errShopifyBadHMAC
	}
	return nil
}

// parseShopifyHeaders validates the delivery headers. The event id, when
// Shopify sends one, is the deduplication key (one event delivered to
// several subscriptions or retried keeps it); else the webhook id (kept by
// retries).
func parseShopifyHeaders(hd http.Header) (shopifyDelivery, error) {
	sd := shopifyDelivery{
		Topic: hd.Get("X-Shopify-Topic"),
		Shop:  strings.ToLower(hd.Get("X-Shopify-Shop-Domain")),
		ID:    hd.Get("X-Shopify-Event-Id"),
	}
	if sd.ID == "" {
		sd.ID = hd.Get("X-Shopify-Webhook-Id")
	}
	switch {
	case !shopifyTopicRE.MatchString(sd.Topic):
		return sd, malformed("bad X-Shopify-Topic")
	case !shopDomainRE.MatchString(sd.Shop):
		return sd, malformed("bad X-Shopify-Shop-Domain")
	case !shopifyIDRE.MatchString(sd.ID):
		return sd, malformed("bad X-Shopify-Event-Id / X-Shopify-Webhook-Id")
	}
	t, err := time.Parse(time.RFC3339Nano, hd.Get("X-Shopify-Triggered-At"))
	if err != nil || t.Unix() <= 0 || t.Unix() > maxUnixTime {
		return sd, malformed("bad X-Shopify-Triggered-At")
	}
	sd.TriggeredAt = t.UTC()
	return sd, nil
}
