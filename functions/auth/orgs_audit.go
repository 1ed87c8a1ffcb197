package auth

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/audit"
	"github.com/gatehouse-dev/gatehouse/shared/store"
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
// organization's integrated events, newest first (AUDIT-4). An event
// recorded in the last second or so may not be integrated yet: it appears
// on a later read, in its place in the log. Only the organization
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

// positiveParam reads query parameter name as a positive integer; absent
// is 0.
func positiveParam(r *http.Request, name string) (int64, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 1 {
		return 0, web.Invalid(map[string]string{name: "must be a positive number"})
	}
	return n, nil
}

// proofError maps a proof that cannot exist to 404, anything else to 503.
func proofError(err error) error {
	if errors.Is(err, audit.ErrNoProof) || errors.Is(err, store.ErrNotFound) {
		return web.NotFound()
	}
	return extUnavailable(err)
}

// orgAuditProof answers GET /orgs/{org}/audit/{seq}/proof?size=: an
// inclusion proof of the organization's event seq in the checkpoint of
// that size (default the newest), which anyone checks offline with the
// public key (AUDIT-5). An event of another organization is not found,
// like one that does not exist (AUDIT-4).
func (x *ext) orgAuditProof(w http.ResponseWriter, r *http.Request) error {
	seq, err := strconv.ParseInt(r.PathValue("seq"), 10, 64)
	if err != nil || seq < 1 {
		return web.Invalid(map[string]string{"seq": "must be a positive event number"})
	}
	size, err := positiveParam(r, "size")
	if err != nil {
		return err
	}
	ev, err := x.d.Store.AuditEventBySeq(r.Context(), seq)
	if err != nil {
		return proofError(err)
	}
	if ev.OrgID != orgMember(r).OrgID {
		return web.NotFound()
	}
	bundle, err := audit.NewProver(x.d.Store).Inclusion(r.Context(), ev, size)
	if err != nil {
		return proofError(err)
	}
	return web.WriteJSON(w, http.StatusOK, bundle)
}

// auditCheckpoint answers GET /audit/checkpoint?size=: the newest signed
// checkpoint of the log, or the one of that size. Public: a checkpoint
// holds the log's size and root hash, nothing of any event.
func (x *ext) auditCheckpoint(w http.ResponseWriter, r *http.Request) error {
	size, err := positiveParam(r, "size")
	if err != nil {
		return err
	}
	var h store.AuditTreeHead
	if size == 0 {
		h, err = x.d.Store.AuditTreeHead(r.Context())
		if err == nil && h.Size == 0 {
			err = audit.ErrNoProof
		}
	} else {
		h, err = x.d.Store.AuditTreeHeadAt(r.Context(), size)
	}
	if err != nil {
		return proofError(err)
	}
	return web.WriteJSON(w, http.StatusOK, map[string]any{"size": h.Size,
		"root": base64.StdEncoding.EncodeToString(h.Root[:]), "checkpoint": h.Note})
}

// auditConsistency answers GET /audit/consistency?from=&to=: the proof
// that checkpoint to (default the newest) extends checkpoint from. Public:
// anyone holding two checkpoints may check them.
func (x *ext) auditConsistency(w http.ResponseWriter, r *http.Request) error {
	from, err := positiveParam(r, "from")
	if err != nil {
		return err
	}
	if from == 0 {
		return web.Invalid(map[string]string{"from": "is required"})
	}
	to, err := positiveParam(r, "to")
	if err != nil {
		return err
	}
	bundle, err := audit.NewProver(x.d.Store).Consistency(r.Context(), from, to)
	if err != nil {
		return proofError(err)
	}
	return web.WriteJSON(w, http.StatusOK, bundle)
}

// auditPublicKey answers GET /audit/public-key: the note verifier key
// that signs the log's checkpoints, for offline verification.
func (x *ext) auditPublicKey(w http.ResponseWriter, r *http.Request) error {
	key, err := x.d.Sequencer.Signer().PublicKey(r.Context())
	if err != nil {
		return extUnavailable(err)
	}
	return web.WriteJSON(w, http.StatusOK, map[string]string{"public_key": key})
}
