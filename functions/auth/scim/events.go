package scim

import (
	"net/http"

	"github.com/gatehouse-dev/gatehouse/shared/events"
	"github.com/gatehouse-dev/gatehouse/shared/store"
)

// emit writes ev (docs/events.md) through tx, the transaction of the
// provisioning change it announces.
func (s *Service) emit(r *http.Request, tx store.Store, ev events.Event) error {
	return s.d.Events.Emit(r.Context(), tx, ev)
}
