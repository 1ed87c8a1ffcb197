package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"google.golang.org/api/option"
)

// PubSub publishes each message as JSON to a Pub/Sub topic, with the
// attribute "kind" set to the message kind so subscriptions can filter on it.
type PubSub struct {
	client    *pubsub.Client
	publisher *pubsub.Publisher
	now       func() time.Time
}

var _ Notifier = (*PubSub)(nil)

// NewPubSub connects to Pub/Sub in projectID (Application Default
// Credentials unless opts say otherwise) and publishes to topic, a topic ID
// or a full projects/P/topics/T name. The caller must Close it.
func NewPubSub(ctx context.Context, projectID, topic string, opts ...option.ClientOption) (*PubSub, error) {
	c, err := pubsub.NewClient(ctx, projectID, opts...)
	if err != nil {
		return nil, fmt.Errorf("create pubsub client: %w", err)
	}
	return &PubSub{client: c, publisher: c.Publisher(topic), now: time.Now}, nil
}

// Notify validates m, publishes it and waits for the server to accept it.
// It returns an error wrapping [ErrInvalidMessage], or the publish error
// (the gRPC status is kept), or ctx's error if ctx ends first; in the last
// case the message may still be published.
func (p *PubSub) Notify(ctx context.Context, m Message) error {
	m, err := prepare(m, p.now)
	if err != nil {
		return err
	}
	data, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode %s notification: %w", m.Kind, err)
	}
	res := p.publisher.Publish(ctx, &pubsub.Message{Data: data, Attributes: map[string]string{"kind": m.Kind}})
	if _, err := res.Get(ctx); err != nil {
		return fmt.Errorf("publish %s notification to %s: %w", m.Kind, p.publisher, err)
	}
	return nil
}

// Close flushes pending messages and closes the client.
func (p *PubSub) Close() error {
	p.publisher.Stop()
	if err := p.client.Close(); err != nil {
		return fmt.Errorf("close pubsub client: %w", err)
	}
	return nil
}
