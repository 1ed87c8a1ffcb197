package rotate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/gatehouse-dev/gatehouse/shared/audit"
	"github.com/gatehouse-dev/gatehouse/shared/envelope"
	"github.com/gatehouse-dev/gatehouse/shared/store"
	"github.com/gatehouse-dev/gatehouse/shared/web"
)

// pubsubData is the data of a google.cloud.pubsub.topic.v1.messagePublished
// CloudEvent. Unknown fields are allowed here (Google adds some); the
// message data itself is parsed strictly.
type pubsubData struct {
	Message struct {
		Data        []byte    `json:"data"` // base64 in JSON
		MessageID   string    `json:"messageId"`
		PublishTime time.Time `json:"publishTime"`
	} `json:"message"`
	Subscription string `json:"subscription"`
}

// maxEventBytes bounds the CloudEvent data (the base64 message and a few
// fields around it).
const maxEventBytes = 16 << 10

// decodeEvent returns the rotation message, its id and its publish time.
// Errors are *[MessageError].
func decodeEvent(e event.Event) (Message, string, time.Time, error) {
	var d pubsubData
	raw := e.Data()
	if len(raw) > maxEventBytes {
		return Message{}, "", time.Time{}, &MessageError{Fields: map[string]string{"event": "is larger than 16 KiB"}}
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		return Message{}, "", time.Time{}, &MessageError{Fields: map[string]string{"event": "is not a Pub/Sub message"}}
	}
	id, published := d.Message.MessageID, d.Message.PublishTime
	if id == "" {
		id = e.ID()
	}
	if published.IsZero() {
		published = e.Time()
	}
	if id == "" || len(id) > 128 {
		return Message{}, "", time.Time{}, &MessageError{Fields: map[string]string{"messageId": "is missing or too long"}}
	}
	m, err := ParseMessage(d.Message.Data)
	return m, id, published, err
}

// HandleEvent handles one Pub/Sub CloudEvent. It returns nil (acknowledge)
// when the run finished, was already done or is running elsewhere for the
// same message, and for a message that is malformed or older than
// MaxMessageAge (logged and audited: retrying cannot help). It returns an
// error (Pub/Sub redelivers with backoff) when a task failed or another
// run holds the lease; the redelivered message resumes the run.
func (r *Rotator) HandleEvent(ctx context.Context, e event.Event) error {
	m, id, published, err := decodeEvent(e)
	if err != nil {
		r.refuse(ctx, "rotate.message_rejected", e.ID(), err.Error())
		return nil
	}
	if age := r.now().Sub(published); !published.IsZero() && age > r.cfg.MaxMessageAge {
		r.refuse(ctx, "rotate.message_dropped", id, fmt.Sprintf("message is %s old, more than %s", age.Round(time.Second), r.cfg.MaxMessageAge))
		return nil
	}
	_, err = r.Run(ctx, Request{ID: "pubsub:" + id, Message: m})
	if errors.Is(err, ErrDuplicate) {
		r.d.Logger.InfoContext(ctx, "rotation message already handled", "message_id", id, "detail", err.Error())
		return nil
	}
	return err
}

// refuse logs and audits a message that will not run.
func (r *Rotator) refuse(ctx context.Context, action, id, reason string) {
	r.d.Logger.ErrorContext(ctx, "rotation message not run", "action", action, "message_id", id, "reason", reason)
	_, err := r.d.Audit.Record(ctx, audit.Event{Actor: "system:rotate", Action: action, Target: id,
		Outcome: store.OutcomeFailure, Metadata: map[string]any{"reason": reason}})
	if err != nil {
		r.d.Logger.ErrorContext(ctx, "rotation audit event not recorded", "action", action, "error", err.Error())
	}
}

// Handler is the local HTTP form, mounted at /rotate by `gatehouse serve`:
// POST / with a [Message] as the JSON body runs it at once and answers the
// [Report]. Deployed environments run rotation only from Pub/Sub, so there
// the route answers 404.
func (r *Rotator) Handler() (http.Handler, error) {
	mux := http.NewServeMux()
	mux.Handle("GET /healthz", r.d.Health())
	mux.Handle("POST /{$}", web.Handler(r.d.Logger, r.serveRun))
	return r.d.Wrap(mux)
}

func (r *Rotator) serveRun(w http.ResponseWriter, req *http.Request) error {
	if r.d.Config.Env.Deployed() {
		return web.NotFound()
	}
	var m Message
	if err := web.DecodeJSON(req, &m); err != nil {
		return err
	}
	var merr *MessageError
	if err := m.Validate(); errors.As(err, &merr) {
		return web.Invalid(merr.Fields)
	}
	id, err := randomID(r.rand)
	if err != nil {
		return err
	}
	rep, err := r.Run(req.Context(), Request{ID: "http:" + id, Message: m, Actor: "local:http"})
	switch {
	case errors.Is(err, ErrBusy):
		return web.Conflict("rotation_running", "Another rotation run is in progress.").WithCause(err)
	case errors.Is(err, envelope.ErrUnavailable):
		return web.Unavailable(err)
	case err != nil:
		return err
	}
	return web.WriteJSON(w, http.StatusOK, rep)
}
