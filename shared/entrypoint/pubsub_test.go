package entrypoint

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"
)

const samplePush = `{"message":{"data":"eyJyZWFzb24iOiJzY2hlZHVsZSJ9","messageId":"42","publishTime":"2026-01-31T12:00:00Z","attributes":{}},"subscription":"projects/p/subscriptions/rotation-rotate-push","deliveryAttempt":3}`

// The deployed event function answers its health check, runs each push as
// a messagePublished CloudEvent carrying the push body, and answers 500 on
// a failure so that Pub/Sub redelivers.
//
// Controls: APP-5, CRED-8
func TestEventFunctionServesHealthAndPushes(t *testing.T) {
	var got []event.Event
	fail := false
	h := eventHandler("Probe", func(context.Context) (Event, error) {
		return Event{
			Handle: func(_ context.Context, e event.Event) error {
				got = append(got, e)
				if fail {
					return errors.New("task failed")
				}
				return nil
			},
			Health: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }),
		}, nil
	})
	tests := []struct {
		name   string
		method string
		path   string
		body   string
		fail   bool
		want   int
	}{
		{"health", http.MethodGet, "/healthz", "", false, http.StatusOK},
		{"push", http.MethodPost, "/", samplePush, false, http.StatusNoContent},
		{"push at the topic path", http.MethodPost, "/projects/p/topics/rotation", samplePush, false, http.StatusNoContent},
		{"failed run is redelivered", http.MethodPost, "/", samplePush, true, http.StatusInternalServerError},
		{"not a push", http.MethodPost, "/", `{"message":"x"}`, false, http.StatusBadRequest},
		{"no message id", http.MethodPost, "/", `{"message":{"data":""}}`, false, http.StatusBadRequest},
		{"too large", http.MethodPost, "/", `{"message":{"data":"` + strings.Repeat("A", maxPushBytes) + `"}}`, false, http.StatusRequestEntityTooLarge},
		{"GET elsewhere", http.MethodGet, "/", "", false, http.StatusMethodNotAllowed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fail = tc.fail
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body)))
			if rec.Code != tc.want {
				t.Fatalf("%s %s: %d, want %d", tc.method, tc.path, rec.Code, tc.want)
			}
		})
	}
	if len(got) != 3 {
		t.Fatalf("handled %d events, want 3", len(got))
	}
	e := got[0]
	if e.ID() != "42" || e.Type() != PubSubMessagePublished || e.Time().IsZero() || string(e.Data()) != samplePush {
		t.Fatalf("event = id %q type %q time %v data %s", e.ID(), e.Type(), e.Time(), e.Data())
	}
}

// Controls: APP-5
func TestUnbuiltEventFunctionAnswers503(t *testing.T) {
	h := eventHandler("Probe", func(context.Context) (Event, error) { return Event{}, errMissingSecret })
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("health of an unbuilt function: %d, want 503", rec.Code)
	}
}

func FuzzPushEvent(f *testing.F) {
	for _, s := range []string{samplePush, `{}`, `{"message":{"messageId":"1","data":"!"}}`, `null`, `[]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		e, err := pushEvent(body)
		if err != nil {
			return
		}
		if e.ID() == "" || len(e.ID()) > 128 || e.Type() != PubSubMessagePublished {
			t.Fatalf("accepted push with id %q type %q", e.ID(), e.Type())
		}
		if err := e.Validate(); err != nil {
			t.Fatalf("accepted push makes an invalid CloudEvent: %v", err)
		}
	})
}
