package auth

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/gatehouse-dev/gatehouse/shared/store"
)

// emitted returns the events in s's outbox about subject, as
// "<kind> <data>" in the order they were written (docs/events.md).
func emitted(t testing.TB, s store.Store, subject string) []string {
	t.Helper()
	due, err := s.DueOutbox(context.Background(), time.Now().Add(100*365*24*time.Hour), 10000)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range due {
		if !strings.HasPrefix(m.ID, "event/") {
			continue
		}
		var ce event.Event
		if err := json.Unmarshal([]byte(m.Data), &ce); err != nil {
			t.Fatalf("outbox %s: %v", m.ID, err)
		}
		if ce.Subject() == subject {
			kind := strings.TrimSuffix(strings.TrimPrefix(ce.Type(), "com.gatehouse."), ".v1")
			out = append(out, kind+" "+string(ce.Data()))
		}
	}
	return out
}
