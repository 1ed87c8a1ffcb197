// Package events is the schema of the events Gatehouse announces to the
// SaaS it serves, and their emission through the transactional outbox
// ([store.Outbox]) and the webhook deliveries ([store.EventDeliveries]): an
// event is written in the same transaction as the change it announces, so
// it exists exactly when that change commits; the outbox relay publishes
// it to Pub/Sub at least once, and package eventhooks delivers it to each
// configured endpoint as a Standard Webhook.
//
// Every event is a CloudEvents 1.0 envelope (structured JSON mode) whose
// type names its version: com.gatehouse.<kind>.v1. A breaking change to a
// kind's data gets a new type (…v2); fields are only ever added to a
// version. Data never carries a secret, token, password or code.
package events

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/gatehouse-dev/gatehouse/shared/store"
)

// Type is a CloudEvents type: com.gatehouse.<kind>.v<version>.
type Type string

// The event types of schema version 1 (docs/events.md).
const (
	UserCreated                Type = "com.gatehouse.user.created.v1"
	UserDeleted                Type = "com.gatehouse.user.deleted.v1"
	UserDisabled               Type = "com.gatehouse.user.disabled.v1"
	UserEnabled                Type = "com.gatehouse.user.enabled.v1"
	SessionRevoked             Type = "com.gatehouse.session.revoked.v1"
	MFAChanged                 Type = "com.gatehouse.mfa.changed.v1"
	IdentityLinked             Type = "com.gatehouse.identity.linked.v1"
	IdentityUnlinked           Type = "com.gatehouse.identity.unlinked.v1"
	OrgMemberAdded             Type = "com.gatehouse.org.member.added.v1"
	OrgMemberRemoved           Type = "com.gatehouse.org.member.removed.v1"
	OrgMemberRoleChanged       Type = "com.gatehouse.org.member.role_changed.v1"
	ConnectionCreated          Type = "com.gatehouse.connection.created.v1"
	ConnectionInvalid          Type = "com.gatehouse.connection.invalid.v1"
	ConnectionRevoked          Type = "com.gatehouse.connection.revoked.v1"
	BillingSubscriptionUpdated Type = "com.gatehouse.billing.subscription.updated.v1"
	KeyRotated                 Type = "com.gatehouse.key.rotated.v1"
)

// Types lists every type, in the order of docs/events.md.
var Types = []Type{UserCreated, UserDeleted, UserDisabled, UserEnabled, SessionRevoked, MFAChanged,
	IdentityLinked, IdentityUnlinked, OrgMemberAdded, OrgMemberRemoved, OrgMemberRoleChanged,
	ConnectionCreated, ConnectionInvalid, ConnectionRevoked, BillingSubscriptionUpdated, KeyRotated}

// Event is one event before it gets its id and time: build it with the
// constructors of data.go, which tie each Type to its data.
type Event struct {
	Type    Type
	Subject string // CloudEvents subject: what the event is about, e.g. "user/u_1"
	Data    any    // one of the *Data structs of data.go
}

// Source is the CloudEvents source of every event.
const Source = "//gatehouse"

// Emitter writes events to the outbox and to the webhook deliveries. With
// neither a Topic nor Webhooks emission is off (development): nothing is
// written.
type Emitter struct {
	Topic    string           // Pub/Sub topic, projects/P/topics/T; "" publishes none
	Webhooks []Endpoint       // endpoints every event is delivered to as a Standard Webhook
	Env      string           // the environment, sent as the "gatehouseenv" extension
	Now      func() time.Time // default time.Now
	Rand     io.Reader        // event and delivery ids; default crypto/rand
}

// Endpoint is a URL of the SaaS that receives events as Standard Webhooks.
type Endpoint struct {
	URL   string
	Types []Type // the types it receives; every type when empty
}

// Wants reports whether the endpoint receives events of type t.
func (p Endpoint) Wants(t Type) bool {
	return len(p.Types) == 0 || slices.Contains(p.Types, t)
}

// Tx is what Emit writes through: a transaction-bound store.
type Tx interface {
	store.Outbox
	store.EventDeliveries
}

// Emit writes ev through tx, which must be the transaction that makes the
// change ev announces, so the event commits or rolls back with it: one
// outbox message "event/<id>" when a Topic is set, and one pending
// delivery per webhook endpoint that wants ev's type. Both are due at once.
func (e *Emitter) Emit(ctx context.Context, tx Tx, ev Event) error {
	if e == nil || e.Topic == "" && len(e.Webhooks) == 0 {
		return nil
	}
	id, err := e.newID("evt_")
	if err != nil {
		return err
	}
	at := e.now()
	body, err := Envelope(id, at, e.Env, ev)
	if err != nil {
		return err
	}
	if e.Topic != "" {
		if err := tx.EnqueueOutbox(ctx, e.message(id, at, body, ev)); err != nil {
			return fmt.Errorf("emit %s: %w", ev.Type, err)
		}
	}
	for _, p := range e.Webhooks {
		if !p.Wants(ev.Type) {
			continue
		}
		if err := e.enqueueDelivery(ctx, tx, p, id, at, body, ev); err != nil {
			return fmt.Errorf("emit %s: %w", ev.Type, err)
		}
	}
	return nil
}

func (e *Emitter) now() time.Time {
	if e.Now != nil {
		return e.Now().UTC()
	}
	return time.Now().UTC()
}

// message builds the outbox message carrying ev's CloudEvents envelope.
func (e *Emitter) message(id string, at time.Time, body []byte, ev Event) store.OutboxMessage {
	attrs := map[string]string{"message_id": "event/" + id, "ce-id": id, "ce-type": string(ev.Type),
		"ce-subject": ev.Subject, "content-type": event.ApplicationCloudEventsJSON}
	return store.OutboxMessage{ID: "event/" + id, Topic: e.Topic, Data: string(body), Attributes: attrs,
		CreatedAt: at, NextAttemptAt: at}
}

// enqueueDelivery writes the delivery of event id to p. Delivery ids start
// with the time in microseconds, so they sort in creation order.
func (e *Emitter) enqueueDelivery(ctx context.Context, tx Tx, p Endpoint, id string, at time.Time, body []byte, ev Event) error {
	rnd, err := e.newID("")
	if err != nil {
		return err
	}
	did := fmt.Sprintf("dlv_%014x%s", at.UnixMicro(), rnd[:16])
	return tx.EnqueueEventDelivery(ctx, store.EventDelivery{ID: did, EventID: id, EventType: string(ev.Type),
		Endpoint: p.URL, Body: string(body), CreatedAt: at, NextAttemptAt: at})
}

// Envelope encodes ev as a CloudEvents 1.0 structured JSON event.
func Envelope(id string, at time.Time, env string, ev Event) ([]byte, error) {
	ce := event.New(event.CloudEventsVersionV1)
	ce.SetID(id)
	ce.SetSource(Source)
	ce.SetType(string(ev.Type))
	ce.SetSubject(ev.Subject)
	ce.SetTime(at)
	if env != "" {
		ce.SetExtension("gatehouseenv", env)
	}
	if err := ce.SetData(event.ApplicationJSON, ev.Data); err != nil {
		return nil, fmt.Errorf("encode %s data: %w", ev.Type, err)
	}
	if err := ce.Validate(); err != nil {
		return nil, fmt.Errorf("encode %s: %w", ev.Type, err)
	}
	b, err := json.Marshal(ce)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", ev.Type, err)
	}
	return b, nil
}

func (e *Emitter) newID(prefix string) (string, error) {
	r := e.Rand
	if r == nil {
		r = rand.Reader
	}
	var b [16]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return "", fmt.Errorf("event id: %w", err)
	}
	return prefix + hex.EncodeToString(b[:]), nil
}

// ParseKinds returns the types of kinds such as "user.created" (the type
// without its com.gatehouse. prefix and version), or an error naming the
// first kind that is not one of [Types].
func ParseKinds(kinds []string) ([]Type, error) {
	var out []Type
	for _, k := range kinds {
		t := Type("com.gatehouse." + k + ".v1")
		if !slices.Contains(Types, t) {
			return nil, fmt.Errorf("unknown event kind %q", k)
		}
		out = append(out, t)
	}
	return out, nil
}
