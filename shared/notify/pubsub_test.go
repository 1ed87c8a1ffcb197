package notify

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

const testTopic = "projects/gatehouse-test/topics/notify"

// newTestPubSub starts a pstest server with opts, creates testTopic when
// createTopic is set, and returns a PubSub notifier connected to it.
func newTestPubSub(t *testing.T, createTopic bool, opts ...pstest.ServerReactorOption) (*PubSub, *pstest.Server) {
	t.Helper()
	srv := pstest.NewServer(opts...)
	t.Cleanup(func() { _ = srv.Close() })
	if createTopic {
		if _, err := srv.GServer.CreateTopic(context.Background(), &pubsubpb.Topic{Name: testTopic}); err != nil {
			t.Fatalf("create topic: %v", err)
		}
	}
	conn, err := grpc.NewClient(srv.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatalf("dial pstest: %v", err)
	}
	p, err := NewPubSub(context.Background(), "gatehouse-test", testTopic, option.WithGRPCConn(conn))
	if err != nil {
		t.Fatalf("NewPubSub: %v", err)
	}
	p.now = func() time.Time { return fixedNow }
	t.Cleanup(func() { _ = p.Close() })
	return p, srv
}

func TestPubSubPublishes(t *testing.T) {
	p, srv := newTestPubSub(t, true)
	want := magicLink()
	if err := p.Notify(context.Background(), want); err != nil {
		t.Fatalf("Notify: %v", err)
	}
	msgs := srv.Messages()
	if len(msgs) != 1 {
		t.Fatalf("server has %d messages, want 1", len(msgs))
	}
	got := msgs[0]
	if got.Topic != testTopic || !reflect.DeepEqual(got.Attributes, map[string]string{"kind": KindMagicLink}) {
		t.Fatalf("topic %q attributes %v", got.Topic, got.Attributes)
	}
	var decoded Message
	if err := json.Unmarshal(got.Data, &decoded); err != nil {
		t.Fatalf("payload is not a Message: %v", err)
	}
	want.CreatedAt = fixedNow
	if !reflect.DeepEqual(decoded, want) {
		t.Fatalf("payload = %+v, want %+v", decoded.Links, want.Links)
	}
	if !strings.Contains(string(got.Data), `"created_at":"2026-03-01T12:00:00Z"`) {
		t.Fatalf("payload lacks the JSON field names: %s", got.Data)
	}
}

// Controls: APP-5
func TestPubSubReportsFailures(t *testing.T) {
	tests := []struct {
		name        string
		createTopic bool
		opts        []pstest.ServerReactorOption
		msg         Message
		wantCode    codes.Code
		wantErr     error
	}{
		{
			name:        "permission denied",
			createTopic: true,
			opts:        []pstest.ServerReactorOption{pstest.WithErrorInjection("Publish", codes.PermissionDenied, "caller lacks pubsub.topics.publish")},
			msg:         magicLink(),
			wantCode:    codes.PermissionDenied,
		},
		{name: "topic missing", msg: magicLink(), wantCode: codes.NotFound},
		{name: "invalid message", createTopic: true, msg: Message{Kind: KindMagicLink, To: "not an address"}, wantErr: ErrInvalidMessage},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, srv := newTestPubSub(t, tc.createTopic, tc.opts...)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			err := p.Notify(ctx, tc.msg)
			if err == nil {
				t.Fatal("Notify succeeded, want an error")
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("Notify = %v, want %v", err, tc.wantErr)
			}
			if tc.wantCode != codes.OK && status.Code(err) != tc.wantCode {
				t.Fatalf("Notify = %v, want code %v", err, tc.wantCode)
			}
			if strings.Contains(err.Error(), token) {
				t.Fatalf("error exposes the token: %v", err)
			}
			if n := len(srv.Messages()); n != 0 {
				t.Fatalf("server stored %d messages", n)
			}
		})
	}
}
