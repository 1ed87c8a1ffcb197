package auth

import (
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/store"
	"github.com/gatehouse-dev/gatehouse/shared/web"
)

// adminDeliveryJSON is one event webhook delivery (docs/events.md) as the
// admin API shows it: never its body, and the endpoint without its query
// string, which may carry the SaaS's own credential.
type adminDeliveryJSON struct {
	ID            string     `json:"id"`
	EventID       string     `json:"event_id"`
	EventType     string     `json:"event_type"`
	Endpoint      string     `json:"endpoint"`
	State         string     `json:"state"`
	Attempts      int        `json:"attempts"`
	CreatedAt     time.Time  `json:"created_at"`
	NextAttemptAt *time.Time `json:"next_attempt_at,omitempty"` // pending only
	UpdatedAt     time.Time  `json:"updated_at"`
	LastStatus    int        `json:"last_status,omitempty"`
	LastError     string     `json:"last_error,omitempty"`
	DeliveredAt   *time.Time `json:"delivered_at,omitempty"`
}

func adminDelivery(d store.EventDelivery) adminDeliveryJSON {
	j := adminDeliveryJSON{ID: d.ID, EventID: d.EventID, EventType: d.EventType, Endpoint: endpointShown(d.Endpoint),
		State: string(d.State), Attempts: d.Attempts, CreatedAt: d.CreatedAt.UTC(), UpdatedAt: d.UpdatedAt.UTC(),
		LastStatus: d.LastStatus, LastError: d.LastError}
	if d.State == store.DeliveryPending {
		t := d.NextAttemptAt.UTC()
		j.NextAttemptAt = &t
	}
	if !d.DeliveredAt.IsZero() {
		t := d.DeliveredAt.UTC()
		j.DeliveredAt = &t
	}
	return j
}

// endpointShown is raw without query and fragment.
func endpointShown(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	u.RawQuery, u.Fragment, u.User = "", "", nil
	return u.String()
}

// handleAdminEventDeliveries serves GET /admin/event-deliveries: the
// deliveries in ?state= (pending, delivered or dead; every state when
// absent), in id (creation) order, in pages of ?limit= after ?after=.
func (s *Server) handleAdminEventDeliveries(w http.ResponseWriter, r *http.Request, c adminCall) error {
	ctx := r.Context()
	after, limit, err := pageQuery(r)
	state := store.DeliveryState(r.URL.Query().Get("state"))
	if err == nil {
		v := web.NewValidator()
		v.OneOf("state", string(state), "", string(store.DeliveryPending), string(store.DeliveryDelivered), string(store.DeliveryDead))
		err = v.Err()
	}
	if err != nil {
		return err
	}
	ds, err := s.d.Store.ListEventDeliveries(ctx, state, after, limit)
	if err != nil {
		return web.Unavailable(err)
	}
	if err := s.recordAdmin(ctx, c, "admin.event_delivery.list", "", map[string]any{"state": string(state), "results": len(ds)}); err != nil {
		return err
	}
	out := make([]adminDeliveryJSON, 0, len(ds))
	for _, d := range ds {
		out = append(out, adminDelivery(d))
	}
	resp := map[string]any{"deliveries": out}
	if len(ds) == limit {
		resp["next_after"] = ds[len(ds)-1].ID
	}
	return web.WriteJSON(w, http.StatusOK, resp)
}

// handleAdminRedeliver serves POST /admin/event-deliveries/{id}/redeliver:
// a dead (or delivered) delivery becomes pending again with its attempts
// reset, due at once, and goes out with the rotate function's next outbox
// task, under the same webhook-id. The change and its audit event are one
// transaction. 409 delivery_pending when it is still pending.
func (s *Server) handleAdminRedeliver(w http.ResponseWriter, r *http.Request, c adminCall) error {
	ctx := r.Context()
	id := r.PathValue("id")
	if err := validPathID(id); err != nil {
		return err
	}
	var d store.EventDelivery
	err := s.d.Store.Tx(ctx, func(tx store.Store) error {
		var err error
		if d, err = tx.RedeliverEventDelivery(ctx, id, s.d.Now()); err != nil {
			return err
		}
		_, err = s.d.Audit.RecordTx(ctx, tx, c.event("admin.event_delivery.redeliver", "event_delivery:"+id,
			map[string]any{"event_id": d.EventID, "event_type": d.EventType}))
		return err
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return web.NotFound().WithCause(err)
	case errors.Is(err, store.ErrConflict):
		return web.Conflict("delivery_pending", "That delivery is still pending: it is retried on its own.").WithCause(err)
	case err != nil:
		return web.Unavailable(err)
	}
	return web.WriteJSON(w, http.StatusOK, adminDelivery(d))
}
