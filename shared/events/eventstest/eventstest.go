// Package eventstest reads back the events a flow wrote to a store's
// outbox, for the tests that prove each kind is emitted by its flow
// (docs/events.md). Every type of [events.Types] must be the argument of
// at least one [Require] call in a test: TestEveryTypeHasAFlowTest in
// shared/events fails otherwise.
package eventstest

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/gatehouse-dev/gatehouse/shared/events"
	"github.com/gatehouse-dev/gatehouse/shared/store"
)

// Emitted is one event read back from an outbox.
type Emitted struct {
	ID      string
	Type    events.Type
	Subject string
	Data    map[string]string // every data field is a string in JSON
}

// String renders e as "<type> <subject> <data>" with the data's fields
// sorted.
func (e Emitted) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s {", e.Type, e.Subject)
	for i, k := range slices.Sorted(maps.Keys(e.Data)) {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s: %q", k, e.Data[k])
	}
	b.WriteString("}")
	return b.String()
}

// Outbox returns every event in s's outbox that is not yet published,
// oldest first. A message that is not a valid CloudEvent of a known type
// fails t.
func Outbox(t testing.TB, s store.Outbox) []Emitted {
	t.Helper()
	due, err := s.DueOutbox(context.Background(), time.Now().Add(100*365*24*time.Hour), 100000)
	if err != nil {
		t.Fatalf("read outbox: %v", err)
	}
	var out []Emitted
	for _, m := range due {
		if !strings.HasPrefix(m.ID, "event/") {
			continue
		}
		var ce event.Event
		if err := json.Unmarshal([]byte(m.Data), &ce); err != nil {
			t.Fatalf("outbox %s: %v", m.ID, err)
		}
		e := Emitted{ID: ce.ID(), Type: events.Type(ce.Type()), Subject: ce.Subject()}
		if !slices.Contains(events.Types, e.Type) || m.ID != "event/"+e.ID || m.Attributes["ce-type"] != ce.Type() {
			t.Fatalf("outbox %s: type %q, attributes %v", m.ID, ce.Type(), m.Attributes)
		}
		if err := json.Unmarshal(ce.Data(), &e.Data); err != nil {
			t.Fatalf("outbox %s: data %s: %v", m.ID, ce.Data(), err)
		}
		out = append(out, e)
	}
	return out
}

// Require fails t unless s's outbox holds exactly one event of type typ
// about subject whose data has every field of want (it may have more),
// and returns that event.
func Require(t testing.TB, s store.Outbox, typ events.Type, subject string, want map[string]string) Emitted {
	t.Helper()
	all := Outbox(t, s)
	var found []Emitted
	for _, e := range all {
		if e.Type == typ && e.Subject == subject && has(e.Data, want) {
			found = append(found, e)
		}
	}
	if len(found) != 1 {
		var lines []string
		for _, e := range all {
			lines = append(lines, "  "+e.String())
		}
		t.Fatalf("%d events %s %s with %v; want exactly one. Outbox:\n%s", len(found), typ, subject, want, strings.Join(lines, "\n"))
	}
	return found[0]
}

// Count returns how many events of type typ s's outbox holds.
func Count(t testing.TB, s store.Outbox, typ events.Type) int {
	t.Helper()
	n := 0
	for _, e := range Outbox(t, s) {
		if e.Type == typ {
			n++
		}
	}
	return n
}

func has(data, want map[string]string) bool {
	for k, v := range want {
		if got, ok := data[k]; !ok || got != v {
			return false
		}
	}
	return true
}
