// Package events is the schema of the events Gatehouse announces to the
// SaaS it serves, and their emission through the transactional outbox
// ([store.Outbox]): an event is written in the same transaction as the
// change it announces, so it exists exactly when that change commits, and
// is published to Pub/Sub at least once by the outbox relay.
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

// Emitter writes events to the outbox. The zero Topic keeps emission off
// (development without a topic): nothing is written.
type Emitter struct {
	Topic string           // Pub/Sub topic, projects/P/topics/T
	Env   string           // the environment, sent as the "gatehouseenv" extension
	Now   func() time.Time // default time.Now
	Rand  io.Reader        // event ids; default crypto/rand
}

// Emit writes ev to the outbox through tx, which must be the transaction
// that makes the change ev announces: the event then commits or rolls back
// with it. The outbox message id is "event/<id>" and the event is due for
// publishing at once.
func (e *Emitter) Emit(ctx context.Context, tx store.Outbox, ev Event) error {
	if e == nil || e.Topic == "" {
		return nil
	}
	m, err := e.message(ev)
	if err != nil {
		return err
	}
	if err := tx.EnqueueOutbox(ctx, m); err != nil {
		return fmt.Errorf("emit %s: %w", ev.Type, err)
	}
	return nil
}

// message builds the outbox message carrying ev's CloudEvents envelope.
func (e *Emitter) message(ev Event) (store.OutboxMessage, error) {
	id, err := e.newID()
	if err != nil {
		return store.OutboxMessage{}, err
	}
	now := time.Now
	if e.Now != nil {
		now = e.Now
	}
	at := now().UTC()
	body, err := Envelope(id, at, e.Env, ev)
	if err != nil {
		return store.OutboxMessage{}, err
	}
	attrs := map[string]string{"message_id": "event/" + id, "ce-id": id, "ce-type": string(ev.Type),
		"ce-subject": ev.Subject, "content-type": event.ApplicationCloudEventsJSON}
	return store.OutboxMessage{ID: "event/" + id, Topic: e.Topic, Data: string(body), Attributes: attrs,
		CreatedAt: at, NextAttemptAt: at}, nil
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

func (e *Emitter) newID() (string, error) {
	r := e.Rand
	if r == nil {
		r = rand.Reader
	}
	var b [16]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return "", fmt.Errorf("event id: %w", err)
	}
	return "evt_" + hex.EncodeToString(b[:]), nil
}
