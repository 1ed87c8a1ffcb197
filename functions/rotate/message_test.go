package rotate

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
)

// Controls: APP-1, APP-6
func TestParseMessage(t *testing.T) {
	for _, tc := range []struct {
		name   string
		data   string
		plan   []string
		fields []string // fields a *MessageError must name
	}{
		{"all tasks", `{"reason":"schedule"}`, []string{"data-keys", "signing-keys", "reencrypt", "rewrap", "purge", "retention", "domains", "access-reviews", "outbox"}, nil},
		{"exposure adds sessions", `{"reason":"suspected-exposure","org_id":"org-1"}`,
			[]string{"data-keys", "signing-keys", "sessions", "reencrypt", "rewrap", "purge", "retention", "domains", "access-reviews", "outbox"}, nil},
		{"listed tasks in run order", `{"tasks":["rewrap","data-keys","rewrap"],"reason":"schedule","dry_run":true}`, []string{"data-keys", "rewrap"}, nil},
		{"empty list is all", `{"tasks":[],"reason":"schedule"}`, []string{"data-keys", "signing-keys", "reencrypt", "rewrap", "purge", "retention", "domains", "access-reviews", "outbox"}, nil},
		{"events", `{"reason":"events"}`, []string{"outbox"}, nil},
		{"events, outbox listed", `{"reason":"events","tasks":["outbox"]}`, []string{"outbox"}, nil},
		{"events with another task", `{"reason":"events","tasks":["outbox","purge"]}`, nil, []string{"tasks"}},
		{"events dry run", `{"reason":"events","dry_run":true}`, nil, []string{"dry_run"}},
		{"events for an org", `{"reason":"events","org_id":"o"}`, nil, []string{"org_id"}},
		{"missing reason", `{"tasks":["purge"]}`, nil, []string{"reason"}},
		{"unknown reason", `{"reason":"Schedule"}`, nil, []string{"reason"}},
		{"unknown task", `{"reason":"schedule","tasks":["all"]}`, nil, []string{"tasks"}},
		{"sessions on schedule", `{"reason":"schedule","tasks":["sessions"]}`, nil, []string{"tasks"}},
		{"org on schedule", `{"reason":"schedule","org_id":"o"}`, nil, []string{"org_id"}},
		{"org with spaces", `{"reason":"suspected-exposure","org_id":"a b"}`, nil, []string{"org_id"}},
		{"unknown field", `{"reason":"schedule","force":true}`, nil, []string{"data"}},
		{"duplicate field", `{"reason":"schedule","Reason":"suspected-exposure"}`, nil, []string{"data"}},
		{"wrong type", `{"reason":"schedule","dry_run":"yes"}`, nil, []string{"data"}},
		{"trailing data", `{"reason":"schedule"} {}`, nil, []string{"data"}},
		{"array", `["schedule"]`, nil, []string{"data"}},
		{"empty", ``, nil, []string{"data"}},
		{"too large", `{"reason":"schedule","org_id":"` + strings.Repeat("a", 5000) + `"}`, nil, []string{"data"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := ParseMessage([]byte(tc.data))
			if tc.fields == nil {
				if err != nil {
					t.Fatalf("ParseMessage: %v", err)
				}
				if got := m.plan(); !slices.Equal(got, tc.plan) {
					t.Fatalf("plan = %v, want %v", got, tc.plan)
				}
				return
			}
			var merr *MessageError
			if !errors.As(err, &merr) {
				t.Fatalf("err = %v, want *MessageError", err)
			}
			for _, f := range tc.fields {
				if merr.Fields[f] == "" {
					t.Fatalf("error %v does not name field %s", err, f)
				}
			}
		})
	}
}

// Controls: APP-1, APP-6
func FuzzParseMessage(f *testing.F) {
	for _, s := range []string{`{"reason":"schedule"}`, `{"tasks":["purge","outbox"],"reason":"suspected-exposure","dry_run":true,"org_id":"o"}`,
		`{"reason":"schedule","reason":"x"}`, `{"tasks":[1]}`, `nul`, `{"a":{"b":[` + strings.Repeat("[", 100)} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseMessage(data)
		if err != nil {
			var merr *MessageError
			if !errors.As(err, &merr) || len(merr.Fields) == 0 {
				t.Fatalf("error %v is not a *MessageError naming a field", err)
			}
			return
		}
		if m.Validate() != nil {
			t.Fatal("accepted a message that does not validate")
		}
		for _, task := range m.plan() {
			if !slices.Contains(taskOrder[:], task) {
				t.Fatalf("plan has unknown task %q", task)
			}
		}
	})
}

// Controls: APP-1, APP-6
func FuzzDecodeEvent(f *testing.F) {
	f.Add([]byte(`{"message":{"data":"eyJyZWFzb24iOiJzY2hlZHVsZSJ9","messageId":"1","publishTime":"2026-01-01T00:00:00Z"}}`))
	f.Add([]byte(`{"message":{"data":"!!!","messageId":""}}`))
	f.Add([]byte(`{"message":null}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		e := event.New()
		e.SetID("id")
		e.SetType("google.cloud.pubsub.topic.v1.messagePublished")
		e.SetSource("test")
		e.SetTime(time.Unix(0, 0))
		e.DataEncoded = data
		m, id, _, err := decodeEvent(e)
		var merr *MessageError
		if err != nil && !errors.As(err, &merr) {
			t.Fatalf("error %v is not a *MessageError", err)
		}
		if err == nil && (id == "" || m.Validate() != nil) {
			t.Fatalf("accepted event with id %q, message %+v", id, m)
		}
	})
}
