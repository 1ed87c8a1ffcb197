package entrypoint

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
)

// maxPushBytes bounds a Pub/Sub push request: the base64 message data and
// a few fields around it. Gatehouse's messages are a few hundred bytes.
const maxPushBytes = 64 << 10

// pushEnvelope is the body Pub/Sub sends to a push endpoint. Unknown fields
// are allowed (Pub/Sub adds some, such as deliveryAttempt).
type pushEnvelope struct {
	Message struct {
		Data        []byte            `json:"data"`
		MessageID   string            `json:"messageId"`
		PublishTime time.Time         `json:"publishTime"`
		Attributes  map[string]string `json:"attributes"`
	} `json:"message"`
	Subscription string `json:"subscription"`
}

// PubSubMessagePublished is the CloudEvent type of a Pub/Sub message.
const PubSubMessagePublished = "google.cloud.pubsub.topic.v1.messagePublished"

// pushEvent turns a Pub/Sub push body into the CloudEvent the Functions
// Framework would make of it: type messagePublished, the message id and
// publish time, and the push body itself as the JSON data.
func pushEvent(body []byte) (event.Event, error) {
	var env pushEnvelope
	if err := json.Unmarshal(body, &env); err != nil {
		return event.Event{}, errors.New("not a Pub/Sub push body")
	}
	if env.Message.MessageID == "" || len(env.Message.MessageID) > 128 {
		return event.Event{}, errors.New("Pub/Sub push without a valid messageId")
	}
	e := event.New()
	e.SetID(env.Message.MessageID)
	e.SetType(PubSubMessagePublished)
	e.SetSource("//pubsub.googleapis.com/" + env.Subscription)
	if !env.Message.PublishTime.IsZero() {
		e.SetTime(env.Message.PublishTime)
	}
	if err := e.SetData(event.ApplicationJSON, json.RawMessage(body)); err != nil {
		return event.Event{}, err
	}
	return e, nil
}

// pushHandler runs handle on each Pub/Sub push: 204 when it returns nil
// (Pub/Sub acknowledges), 500 when it fails (Pub/Sub redelivers), 400 for
// a body that is not a push.
func pushHandler(name string, handle func(context.Context, event.Event) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxPushBytes))
		if err != nil {
			http.Error(w, "request body too large or unreadable", http.StatusRequestEntityTooLarge)
			return
		}
		e, err := pushEvent(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if err := handle(r.Context(), e); err != nil {
			slog.ErrorContext(r.Context(), "event function failed; Pub/Sub will redeliver", "function", name, "message_id", e.ID(), "error", err.Error())
			http.Error(w, "event not handled", http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}
