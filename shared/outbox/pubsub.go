package outbox

import (
	"context"
	"fmt"
	"sync"

	"cloud.google.com/go/pubsub/v2"
	"google.golang.org/api/option"

	"github.com/gatehouse-dev/gatehouse/shared/store"
)

// PubSub is a [Sender] that publishes to Google Cloud Pub/Sub, to the topic
// each message names.
type PubSub struct {
	client *pubsub.Client

	mu         sync.Mutex
	publishers map[string]*pubsub.Publisher
}

var _ Sender = (*PubSub)(nil)

// NewPubSub connects to Pub/Sub in projectID (Application Default
// Credentials unless opts say otherwise). The caller must Close it.
func NewPubSub(ctx context.Context, projectID string, opts ...option.ClientOption) (*PubSub, error) {
	c, err := pubsub.NewClient(ctx, projectID, opts...)
	if err != nil {
		return nil, fmt.Errorf("create pubsub client: %w", err)
	}
	return &PubSub{client: c, publishers: map[string]*pubsub.Publisher{}}, nil
}

// Send publishes m to m.Topic and waits until the server accepts it or ctx
// ends (in which case it may still be published: consumers deduplicate).
func (p *PubSub) Send(ctx context.Context, m store.OutboxMessage) error {
	pub := p.publisher(m.Topic)
	res := pub.Publish(ctx, &pubsub.Message{Data: []byte(m.Data), Attributes: m.Attributes})
	if _, err := res.Get(ctx); err != nil {
		return fmt.Errorf("publish to %s: %w", m.Topic, err)
	}
	return nil
}

// publisher returns the topic's publisher, creating it on first use.
func (p *PubSub) publisher(topic string) *pubsub.Publisher {
	p.mu.Lock()
	defer p.mu.Unlock()
	pub, ok := p.publishers[topic]
	if !ok {
		pub = p.client.Publisher(topic)
		p.publishers[topic] = pub
	}
	return pub
}

// Close flushes pending messages and closes the client.
func (p *PubSub) Close() error {
	p.mu.Lock()
	for _, pub := range p.publishers {
		pub.Stop()
	}
	p.publishers = map[string]*pubsub.Publisher{}
	p.mu.Unlock()
	if err := p.client.Close(); err != nil {
		return fmt.Errorf("close pubsub client: %w", err)
	}
	return nil
}
