package webhooks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"time"
	"unicode/utf8"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/gatehouse-dev/gatehouse/shared/config"
	"github.com/gatehouse-dev/gatehouse/shared/store"
	"github.com/gatehouse-dev/gatehouse/shared/web"
)

// standardTolerance is the Standard Webhooks timestamp tolerance, both ways.
const standardTolerance = 5 * time.Minute

var (
	errStandardHeaders   = errors.New("missing or malformed webhook-id / webhook-timestamp / webhook-signature (or svix-*)")
	errStandardSignature = errors.New("no matching webhook-signature")
	errStandardTime      = errors.New("webhook-timestamp out of tolerance")

	// msgIDRE bounds webhook-id: it is signed, but it is also our key.
	msgIDRE = regexp.MustCompile(`^[\x21-\x7e]{1,256}$`)
	// payloadTypeRE bounds the optional "type" of a payload.
	payloadTypeRE = regexp.MustCompile(`^[A-Za-z0-9_.:/-]{1,100}$`)
)

// standardVerifier checks deliveries of one Standard Webhooks source with
// the reference library, once per configured secret.
type standardVerifier struct {
	hooks []*standardwebhooks.Webhook
}

func newStandardVerifier(secrets []config.Secret) (*standardVerifier, error) {
	v := &standardVerifier{}
	for _, s := range secrets {
		wh, err := standardwebhooks.NewWebhook(s.Reveal())
		if err != nil {
			return nil, errors.New("a Standard Webhooks secret is not whsec_ base64") // never the value
		}
		v.hooks = append(v.hooks, wh)
	}
	return v, nil
}

// verify checks the three headers and the signature, and returns the
// message id and timestamp. The reference library's own timestamp check
// reads the wall clock, so it is done here against now.
func (v *standardVerifier) verify(body []byte, hd http.Header, now time.Time) (string, time.Time, string, error) {
	hd = canonicalStandardHeaders(hd)
	id, ts, err := parseStandardHeaders(hd)
	if err != nil {
		return "", time.Time{}, reasonNoSignature, err
	}
	ok := false
	for _, wh := range v.hooks {
		if wh.VerifyIgnoringTimestamp(body, hd) == nil {
			ok = true
		}
	}
	if !ok {
		return "", time.Time{}, reasonBadSignature, errStandardSignature
	}
	if d := now.Sub(ts); d > standardTolerance || d < -standardTolerance {
		return "", time.Time{}, reasonTimestamp, errStandardTime
	}
	return id, ts, "", nil
}

// svixHeaders are the names Svix-hosted senders use for the same three
// values, with the same signing scheme.
var svixHeaders = [3]string{"svix-id", "svix-timestamp", "svix-signature"}

// canonicalStandardHeaders returns the delivery's three signature headers
// under their webhook-* names. A delivery that carries any webhook-* header
// is read by those names alone; otherwise by the svix-* names. The two sets
// are never mixed, so a value is always checked with its own siblings.
func canonicalStandardHeaders(hd http.Header) http.Header {
	names := [3]string{standardwebhooks.HeaderWebhookID, standardwebhooks.HeaderWebhookTimestamp, standardwebhooks.HeaderWebhookSignature}
	from := svixHeaders
	for _, n := range names {
		if _, ok := hd[http.CanonicalHeaderKey(n)]; ok {
			from = names
		}
	}
	out := http.Header{}
	for i, n := range names {
		if vs, ok := hd[http.CanonicalHeaderKey(from[i])]; ok {
			out[http.CanonicalHeaderKey(n)] = vs
		}
	}
	return out
}

// parseStandardHeaders validates webhook-id and webhook-timestamp (decimal
// unix seconds) and that webhook-signature is present.
func parseStandardHeaders(hd http.Header) (string, time.Time, error) {
	id := hd.Get(standardwebhooks.HeaderWebhookID)
	raw := hd.Get(standardwebhooks.HeaderWebhookTimestamp)
	if !msgIDRE.MatchString(id) || hd.Get(standardwebhooks.HeaderWebhookSignature) == "" || len(raw) > 12 {
		return "", time.Time{}, errStandardHeaders
	}
	n, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || n <= 0 || raw[0] == '+' || raw[0] == '0' { // canonical decimal only
		return "", time.Time{}, errStandardHeaders
	}
	return id, time.Unix(n, 0).UTC(), nil
}

// standard answers POST /standard/{source}.
func (h *handlers) standard(w http.ResponseWriter, r *http.Request) error {
	source := r.PathValue("source")
	v, ok := h.standardSources[source]
	if !ok {
		return web.NotFound()
	}
	provider := "standard:" + source
	body, err := h.readBody(w, r, provider)
	if err != nil {
		return err
	}
	id, ts, reason, err := v.verify(body, r.Header, h.d.Now())
	if err != nil {
		return h.reject(r, provider, reason, errRejected, err)
	}
	eventType, err := standardPayloadType(body)
	if err != nil {
		return h.reject(r, provider, reasonMalformed, errMalformedEvent, err)
	}
	return h.deliver(w, r, delivery{
		event: store.WebhookEvent{Provider: provider, ID: id, Type: eventType, OccurredAt: ts},
		topic: h.cfg.EventTopic,
		apply: func(ctx context.Context, tx store.Store, e *store.WebhookEvent) (any, error) {
			e.Status, e.Data = store.WebhookApplied, string(body)
			return json.RawMessage(body), nil
		},
	})
}

// standardPayloadType checks that body is a UTF-8 JSON object and returns
// its "type", "" when it has none.
func standardPayloadType(body []byte) (string, error) {
	if !utf8.Valid(body) || !isJSONObject(body) {
		return "", malformed("payload is not a JSON object")
	}
	var p struct {
		Type *string `json:"type"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return "", malformed("payload: %v", err)
	}
	if p.Type == nil {
		return "", nil
	}
	if !payloadTypeRE.MatchString(*p.Type) {
		return "", malformed("bad payload type")
	}
	return *p.Type, nil
}

// encodeData encodes what is kept of an event as its stored data.
func encodeData(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("encode event data: %w", err)
	}
	return string(b), nil
}
