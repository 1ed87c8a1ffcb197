package auth

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/web"
)

type auditEventJSON struct {
	Seq      int64           `json:"seq"`
	Time     time.Time       `json:"time"`
	Actor    string          `json:"actor"`
	Action   string          `json:"action"`
	Target   string          `json:"target"`
	Outcome  string          `json:"outcome"`
	Network  string          `json:"network,omitempty"`
	Metadata json.RawMessage `json:"metadata"`
}

// orgAudit answers GET /orgs/{org}/audit?before=&limit=: the
// organization's events, newest first (AUDIT-4). Only the organization
// authz.Require checked is read, so no one reads another's trail. The
// response's "next" is the before= value of the next page.
func (x *ext) orgAudit(w http.ResponseWriter, r *http.Request) error {
	cursor, limit, err := orgPage(r, "before")
	if err != nil {
		return err
	}
	var before int64
	if cursor != "" {
		before, err = strconv.ParseInt(cursor, 10, 64)
		if err != nil || before < 1 {
			return web.Invalid(map[string]string{"before": "must be a positive event number"})
		}
	}
	events, err := x.d.Store.OrgAuditEvents(r.Context(), orgMember(r).OrgID, before, limit)
	if err != nil {
		return extUnavailable(err)
	}
	out := []auditEventJSON{}
	for _, e := range events {
		out = append(out, auditEventJSON{Seq: e.Seq, Time: e.Time, Actor: e.Actor, Action: e.Action, Target: e.Target,
			Outcome: string(e.Outcome), Network: e.Network, Metadata: json.RawMessage(e.Metadata)})
	}
	resp := map[string]any{"events": out}
	if len(events) == limit {
		resp["next"] = strconv.FormatInt(events[len(events)-1].Seq, 10)
	}
	return web.WriteJSON(w, http.StatusOK, resp)
}
