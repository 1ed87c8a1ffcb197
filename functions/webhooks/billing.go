package webhooks

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/store"
	"github.com/gatehouse-dev/gatehouse/shared/web"
)

// applyStripeEvent applies a known Stripe event inside tx: it locks the
// customer's account, refuses to attach an organization that belongs to
// another customer (or a customer that belongs to another organization),
// merges the update and saves the account if it changed. It sets the
// event's status, organization and subject, and returns the account.
func applyStripeEvent(ctx context.Context, tx store.Store, ev stripeEvent, e *store.WebhookEvent, now time.Time) (store.BillingAccount, error) {
	u := ev.Update
	e.Subject = u.Customer
	if !ev.Known || u.Customer == "" {
		e.Status = store.WebhookIgnored
		return store.BillingAccount{}, nil
	}
	a, err := tx.LockBillingAccount(ctx, u.Customer, now)
	if err != nil {
		return a, err
	}
	e.OrgID = a.OrgID
	if u.Org != "" {
		conflict, err := orgConflict(ctx, tx, a, u.Org)
		if err != nil || conflict {
			e.Status = store.WebhookConflict
			return a, err
		}
	}
	if !applyUpdate(&a, u, store.EventVersion{At: ev.Created, Rank: lifecycleRank(string(ev.Type)), EventID: ev.ID}) {
		e.Status = store.WebhookSuperseded
		return a, nil
	}
	a.UpdatedAt = now
	if err := tx.SaveBillingAccount(ctx, a); err != nil {
		return a, err
	}
	e.Status, e.OrgID = store.WebhookApplied, a.OrgID
	return a, nil
}

// lifecycleRank places an event type in its object's lifecycle, which
// orders events of the same second: "….created" first, "….deleted" last,
// every other change between.
func lifecycleRank(eventType string) int {
	switch {
	case strings.HasSuffix(eventType, ".created"):
		return store.RankCreated
	case strings.HasSuffix(eventType, ".deleted"):
		return store.RankDeleted
	}
	return store.RankChanged
}

// orgConflict reports whether mapping account a to org would move a
// customer between organizations or give an organization a second customer.
func orgConflict(ctx context.Context, tx store.Store, a store.BillingAccount, org string) (bool, error) {
	if a.OrgID != "" {
		return a.OrgID != org, nil
	}
	other, err := tx.BillingAccountByOrg(ctx, org)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("check billing account of organization: %w", err)
	}
	return other.CustomerID != a.CustomerID, nil
}

// applyUpdate merges u, carried by an event of version v, into a and
// reports whether a changed. Each group of fields (subscription, card,
// invoice) is a register that only an event newer than the one that last
// set it may overwrite, so the result depends on the set of events, never
// on the order they arrived in (HOOK-5). One subscription per customer is
// tracked: the one named by the newest subscription event.
func applyUpdate(a *store.BillingAccount, u stripeUpdate, v store.EventVersion) bool {
	changed := false
	if u.Org != "" && a.OrgID == "" {
		a.OrgID, changed = u.Org, true
	}
	if u.SubscriptionRef != "" && a.SubscriptionID == "" {
		a.SubscriptionID, changed = u.SubscriptionRef, true
	}
	if s := u.Subscription; s != nil && a.SubscriptionVersion.Before(v) {
		a.SubscriptionID, a.PriceID, a.ProductID, a.Status = s.ID, s.PriceID, s.ProductID, s.Status
		a.CurrentPeriodEnd, a.CancelAtPeriodEnd = s.CurrentPeriodEnd, s.CancelAtPeriodEnd
		a.SubscriptionVersion, changed = v, true
	}
	if c := u.Card; c != nil && a.CardVersion.Before(v) {
		a.CardBrand, a.CardLast4, a.CardVersion, changed = c.Brand, c.Last4, v, true
	}
	if in := u.Invoice; in != nil && a.InvoiceVersion.Before(v) {
		a.InvoiceID, a.InvoiceStatus, a.InvoiceVersion, changed = in.ID, in.Status, v, true
	}
	return changed
}

// billingView is the billing state as the API and the Pub/Sub messages show
// it: metadata only.
type billingView struct {
	OrgID        string            `json:"org_id"`
	CustomerID   string            `json:"customer_id"`
	Subscription *subscriptionView `json:"subscription"`
	Card         *cardState        `json:"card"`
	LastInvoice  *invoiceState     `json:"last_invoice"`
	UpdatedAt    time.Time         `json:"updated_at"`
}

type subscriptionView struct {
	ID                string     `json:"id"`
	PriceID           string     `json:"price_id"`
	ProductID         string     `json:"product_id"`
	Status            string     `json:"status"`
	CurrentPeriodEnd  *time.Time `json:"current_period_end"`
	CancelAtPeriodEnd bool       `json:"cancel_at_period_end"`
}

func viewBilling(a store.BillingAccount) billingView {
	v := billingView{OrgID: a.OrgID, CustomerID: a.CustomerID, UpdatedAt: a.UpdatedAt.UTC()}
	if a.SubscriptionID != "" {
		v.Subscription = &subscriptionView{ID: a.SubscriptionID, PriceID: a.PriceID, ProductID: a.ProductID,
			Status: a.Status, CancelAtPeriodEnd: a.CancelAtPeriodEnd}
		if !a.CurrentPeriodEnd.IsZero() {
			end := a.CurrentPeriodEnd.UTC()
			v.Subscription.CurrentPeriodEnd = &end
		}
	}
	if a.CardLast4 != "" {
		v.Card = &cardState{Brand: a.CardBrand, Last4: a.CardLast4}
	}
	if a.InvoiceID != "" {
		v.LastInvoice = &invoiceState{ID: a.InvoiceID, Status: a.InvoiceStatus}
	}
	return v
}

// getBilling answers GET /billing?org=: the organization's billing state.
// orgOf returns the organization the caller was authorized for (the authz
// middleware has already checked that the caller owns it).
func (h *handlers) getBilling(orgOf func(*http.Request) string) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		org := orgOf(r)
		if !orgIDRE.MatchString(org) {
			return web.Invalid(map[string]string{"org": "must be an organization id"})
		}
		a, err := h.d.Store.BillingAccountByOrg(r.Context(), org)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return web.NotFound()
		case err != nil:
			return fmt.Errorf("read billing state: %w", err)
		}
		web.NoStore(w)
		return web.WriteJSON(w, http.StatusOK, viewBilling(a))
	}
}
