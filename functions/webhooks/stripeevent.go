package webhooks

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"
)

// errMalformed wraps every reason a verified body is not an event we accept.
var errMalformed = errors.New("malformed event")

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errMalformed, fmt.Sprintf(format, args...))
}

// stripeEvent is what Gatehouse reads from a Stripe event: its identity and
// an update holding billing metadata only. Decoding into these few typed
// fields is the HOOK-3 guarantee: nothing else of the payload (in
// particular nothing else of a payment method) is ever held or stored.
type stripeEvent struct {
	ID      string
	Type    string
	Created time.Time
	Known   bool // a type Gatehouse acts on
	Update  stripeUpdate
}

// stripeUpdate is the part of an event that changes billing state. It is
// stored as the event's data and applied by [applyStripe].
type stripeUpdate struct {
	Customer        string             `json:"customer,omitempty"`
	Org             string             `json:"org,omitempty"`              // checkout: the organization paying
	SubscriptionRef string             `json:"subscription_ref,omitempty"` // checkout: the subscription it created
	Subscription    *subscriptionState `json:"subscription,omitempty"`
	Card            *cardState         `json:"card,omitempty"`
	Invoice         *invoiceState      `json:"invoice,omitempty"`
}

type subscriptionState struct {
	ID                string    `json:"id"`
	PriceID           string    `json:"price_id"`
	ProductID         string    `json:"product_id"`
	Status            string    `json:"status"`
	CurrentPeriodEnd  time.Time `json:"current_period_end"`
	CancelAtPeriodEnd bool      `json:"cancel_at_period_end"`
}

type cardState struct {
	Brand string `json:"brand"`
	Last4 string `json:"last4"`
}

type invoiceState struct {
	ID     string `json:"id"`
	Status string `json:"status"` // "paid" or "payment_failed"
}

var (
	eventIDRE   = regexp.MustCompile(`^evt_[A-Za-z0-9_]{1,250}$`)
	eventTypeRE = regexp.MustCompile(`^[a-z0-9_]{1,40}(\.[a-z0-9_]{1,40}){1,4}$`)
	stripeIDRE  = regexp.MustCompile(`^[a-z]{2,8}_[A-Za-z0-9_]{1,250}$`)
	orgIDRE     = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	statusRE    = regexp.MustCompile(`^[a-z_]{1,32}$`)
	brandRE     = regexp.MustCompile(`^[a-z_]{1,32}$`)
	last4RE     = regexp.MustCompile(`^[0-9]{4}$`)
)

// maxUnixTime bounds every timestamp read from a delivery to years before 3000.
const maxUnixTime = 32503680000

// parseStripeEvent decodes a verified Stripe event. Anything that is not a
// well-formed event of the shape Gatehouse expects is an error wrapping
// errMalformed; it never panics.
func parseStripeEvent(body []byte) (stripeEvent, error) {
	var env struct {
		ID      string `json:"id"`
		Object  string `json:"object"`
		Type    string `json:"type"`
		Created int64  `json:"created"`
		Data    struct {
			Object json.RawMessage `json:"object"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return stripeEvent{}, malformed("not a JSON event: %v", err)
	}
	switch {
	case env.Object != "event":
		return stripeEvent{}, malformed("object is not \"event\"")
	case !eventIDRE.MatchString(env.ID):
		return stripeEvent{}, malformed("bad event id")
	case !eventTypeRE.MatchString(env.Type):
		return stripeEvent{}, malformed("bad event type")
	case env.Created <= 0 || env.Created > maxUnixTime:
		return stripeEvent{}, malformed("bad created time")
	case !isJSONObject(env.Data.Object):
		return stripeEvent{}, malformed("data.object is not an object")
	}
	ev := stripeEvent{ID: env.ID, Type: env.Type, Created: time.Unix(env.Created, 0).UTC()}
	decode, ok := stripeDecoder(env.Type)
	if !ok {
		return ev, nil // recorded and acknowledged, not applied
	}
	u, err := decode(env.Data.Object)
	if err != nil {
		return stripeEvent{}, err
	}
	ev.Known, ev.Update = true, u
	return ev, nil
}

func isJSONObject(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && raw[0] == '{'
}

// stripeDecoder returns the decoder of data.object for each event type
// Gatehouse applies.
func stripeDecoder(eventType string) (func(json.RawMessage) (stripeUpdate, error), bool) {
	switch eventType {
	case "checkout.session.completed":
		return decodeCheckout, true
	case "customer.subscription.created", "customer.subscription.updated", "customer.subscription.deleted":
		return decodeSubscription, true
	case "invoice.paid":
		return decodeInvoice("paid"), true
	case "invoice.payment_failed":
		return decodeInvoice("payment_failed"), true
	case "payment_method.attached":
		return decodePaymentMethod, true
	}
	return nil, false
}

// expandable is a Stripe field that holds an id, or the expanded object
// with that id, or null.
type expandable string

func (x *expandable) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		*x = ""
		return nil
	case len(b) > 0 && b[0] == '{':
		var obj struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(b, &obj); err != nil {
			return err
		}
		*x = expandable(obj.ID)
		return nil
	default:
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*x = expandable(s)
		return nil
	}
}

// checkID validates an id that must be present (required) or may be empty.
func checkID(what string, id expandable, required bool) error {
	if id == "" && !required {
		return nil
	}
	if !stripeIDRE.MatchString(string(id)) {
		return malformed("bad %s id", what)
	}
	return nil
}

func decodeObject(raw json.RawMessage, object string, dst any) error {
	var head struct {
		Object string `json:"object"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return malformed("data.object: %v", err)
	}
	if head.Object != object {
		return malformed("data.object is not a %s", object)
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		return malformed("%s: %v", object, err)
	}
	return nil
}

func decodeCheckout(raw json.RawMessage) (stripeUpdate, error) {
	var s struct {
		ID                string            `json:"id"`
		Customer          expandable        `json:"customer"`
		Subscription      expandable        `json:"subscription"`
		ClientReferenceID *string           `json:"client_reference_id"`
		Metadata          map[string]string `json:"metadata"`
	}
	if err := decodeObject(raw, "checkout.session", &s); err != nil {
		return stripeUpdate{}, err
	}
	if err := errors.Join(checkID("session", expandable(s.ID), true), checkID("customer", s.Customer, false),
		checkID("subscription", s.Subscription, false)); err != nil {
		return stripeUpdate{}, err
	}
	org, err := checkoutOrg(s.ClientReferenceID, s.Metadata["gatehouse_org"])
	if err != nil {
		return stripeUpdate{}, err
	}
	return stripeUpdate{Customer: string(s.Customer), Org: org, SubscriptionRef: string(s.Subscription)}, nil
}

// checkoutOrg returns the organization a Checkout Session names through
// client_reference_id and/or metadata.gatehouse_org; both, if present, must
// agree.
func checkoutOrg(ref *string, meta string) (string, error) {
	org := meta
	if ref != nil && *ref != "" {
		if meta != "" && meta != *ref {
			return "", malformed("client_reference_id and metadata.gatehouse_org disagree")
		}
		org = *ref
	}
	if org != "" && !orgIDRE.MatchString(org) {
		return "", malformed("bad organization id")
	}
	return org, nil
}

func decodeSubscription(raw json.RawMessage) (stripeUpdate, error) {
	var s struct {
		ID                string     `json:"id"`
		Customer          expandable `json:"customer"`
		Status            string     `json:"status"`
		CancelAtPeriodEnd bool       `json:"cancel_at_period_end"`
		CurrentPeriodEnd  int64      `json:"current_period_end"` // API versions before 2025-03-31
		Items             struct {
			Data []struct {
				CurrentPeriodEnd int64 `json:"current_period_end"`
				Price            struct {
					ID      string     `json:"id"`
					Product expandable `json:"product"`
				} `json:"price"`
			} `json:"data"`
		} `json:"items"`
	}
	if err := decodeObject(raw, "subscription", &s); err != nil {
		return stripeUpdate{}, err
	}
	if err := errors.Join(checkID("subscription", expandable(s.ID), true), checkID("customer", s.Customer, true)); err != nil {
		return stripeUpdate{}, err
	}
	if !statusRE.MatchString(s.Status) {
		return stripeUpdate{}, malformed("bad subscription status")
	}
	st := &subscriptionState{ID: s.ID, Status: s.Status, CancelAtPeriodEnd: s.CancelAtPeriodEnd}
	periodEnd := s.CurrentPeriodEnd
	if len(s.Items.Data) > 0 {
		item := s.Items.Data[0]
		if err := errors.Join(checkID("price", expandable(item.Price.ID), false), checkID("product", item.Price.Product, false)); err != nil {
			return stripeUpdate{}, err
		}
		st.PriceID, st.ProductID = item.Price.ID, string(item.Price.Product)
		if item.CurrentPeriodEnd != 0 {
			periodEnd = item.CurrentPeriodEnd
		}
	}
	if periodEnd < 0 || periodEnd > maxUnixTime {
		return stripeUpdate{}, malformed("bad current_period_end")
	}
	if periodEnd > 0 {
		st.CurrentPeriodEnd = time.Unix(periodEnd, 0).UTC()
	}
	return stripeUpdate{Customer: string(s.Customer), Subscription: st}, nil
}

func decodeInvoice(status string) func(json.RawMessage) (stripeUpdate, error) {
	return func(raw json.RawMessage) (stripeUpdate, error) {
		var in struct {
			ID       string     `json:"id"`
			Customer expandable `json:"customer"`
		}
		if err := decodeObject(raw, "invoice", &in); err != nil {
			return stripeUpdate{}, err
		}
		if err := errors.Join(checkID("invoice", expandable(in.ID), true), checkID("customer", in.Customer, true)); err != nil {
			return stripeUpdate{}, err
		}
		return stripeUpdate{Customer: string(in.Customer), Invoice: &invoiceState{ID: in.ID, Status: status}}, nil
	}
}

// decodePaymentMethod keeps the card's brand and last four digits, and
// nothing else of the payment method.
func decodePaymentMethod(raw json.RawMessage) (stripeUpdate, error) {
	var pm struct {
		ID       string     `json:"id"`
		Type     string     `json:"type"`
		Customer expandable `json:"customer"`
		Card     *struct {
			Brand string `json:"brand"`
			Last4 string `json:"last4"`
		} `json:"card"`
	}
	if err := decodeObject(raw, "payment_method", &pm); err != nil {
		return stripeUpdate{}, err
	}
	if err := errors.Join(checkID("payment method", expandable(pm.ID), true), checkID("customer", pm.Customer, false)); err != nil {
		return stripeUpdate{}, err
	}
	u := stripeUpdate{Customer: string(pm.Customer)}
	if pm.Type != "card" || pm.Card == nil {
		return u, nil
	}
	if !brandRE.MatchString(pm.Card.Brand) || !last4RE.MatchString(pm.Card.Last4) {
		return stripeUpdate{}, malformed("bad card brand or last4")
	}
	u.Card = &cardState{Brand: pm.Card.Brand, Last4: pm.Card.Last4}
	return u, nil
}
