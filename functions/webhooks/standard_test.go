package webhooks

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/gatehouse-dev/gatehouse/shared/store"
)

// standardHeaders signs body as a Standard Webhooks sender with secret.
func standardHeaders(t testing.TB, body []byte, secret, id string, at time.Time) http.Header {
	t.Helper()
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := wh.Sign(id, at, body)
	if err != nil {
		t.Fatal(err)
	}
	return http.Header{"Webhook-Id": {id}, "Webhook-Timestamp": {strconv.FormatInt(at.Unix(), 10)}, "Webhook-Signature": {sig}}
}

// Standard Webhooks deliveries are verified per source with that source's
// secrets, within 5 minutes either way, then deduplicated on webhook-id,
// recorded and published.
//
// Controls: HOOK-2, HOOK-4, APP-5, APP-6
func TestStandardWebhooks(t *testing.T) {
	eachBackend(t, func(t *testing.T, s store.Store) {
		e := newTestEnv(t, s, nil)
		now := e.Clock.Now()
		body := []byte(`{"type":"invoice.created","timestamp":"2026-11-22T12:00:00Z","data":{"n":42}}`)
		good := standardHeaders(t, body, standardSecret, "msg_1", now)
		multi := standardHeaders(t, body, standardSecret, "msg_2", now)
		bad := standardHeaders(t, body, standardOtherSecret, "msg_2", now).Get("Webhook-Signature")
		multi.Set("Webhook-Signature", bad+" v1a,xyz "+multi.Get("Webhook-Signature"))
		set := func(h http.Header, k, v string) http.Header { h = h.Clone(); h.Set(k, v); return h }
		// svix renames the three headers as Svix-hosted senders send them.
		svix := func(h http.Header) http.Header {
			return http.Header{"Svix-Id": h["Webhook-Id"], "Svix-Timestamp": h["Webhook-Timestamp"], "Svix-Signature": h["Webhook-Signature"]}
		}
		svixGood := svix(standardHeaders(t, body, standardSecret, "msg_svix_1", now))
		mixed := svix(standardHeaders(t, body, standardSecret, "msg_svix_2", now))
		mixed.Set("Webhook-Id", "msg_svix_2") // a webhook-* header present: svix-* are not read
		for _, tc := range []struct {
			name   string
			path   string
			body   []byte
			header http.Header
			status int
			want   string
		}{
			{"valid", "/standard/acme", body, good, 200, `"status":"applied"`},
			{"redelivery", "/standard/acme", body, good, 200, `"duplicate":true`},
			{"several signatures, one valid", "/standard/acme", body, multi, 200, `"status":"applied"`},
			{"another source's secret", "/standard/acme", body, standardHeaders(t, body, standardOtherSecret, "msg_3", now), 400, "invalid_signature"},
			{"signed for acme, sent to other", "/standard/other", body, standardHeaders(t, body, standardSecret, "msg_4", now), 400, "invalid_signature"},
			{"unknown source", "/standard/nobody", body, good, 404, "not_found"},
			{"no headers", "/standard/acme", body, nil, 400, "invalid_signature"},
			{"id changed after signing", "/standard/acme", body, set(good, "Webhook-Id", "msg_5"), 400, "invalid_signature"},
			{"timestamp changed after signing", "/standard/acme", body, set(good, "Webhook-Timestamp", strconv.FormatInt(now.Unix()+1, 10)), 400, "invalid_signature"},
			{"body altered", "/standard/acme", []byte(strings.Replace(string(body), "42", "43", 1)), good, 400, "invalid_signature"},
			{"5 min 1 s old", "/standard/acme", body, standardHeaders(t, body, standardSecret, "msg_6", now.Add(-301*time.Second)), 400, "invalid_signature"},
			{"5 min 1 s ahead", "/standard/acme", body, standardHeaders(t, body, standardSecret, "msg_7", now.Add(301*time.Second)), 400, "invalid_signature"},
			{"5 min old", "/standard/acme", body, standardHeaders(t, body, standardSecret, "msg_8", now.Add(-300*time.Second)), 200, `"status":"applied"`},
			{"svix-* names", "/standard/acme", body, svixGood, 200, `"status":"applied"`},
			{"svix-* redelivery", "/standard/acme", body, svixGood, 200, `"duplicate":true`},
			{"svix-* names, another source's secret", "/standard/acme", body, svix(standardHeaders(t, body, standardOtherSecret, "msg_svix_3", now)), 400, "invalid_signature"},
			{"svix-* id changed after signing", "/standard/acme", body, set(svixGood, "Svix-Id", "msg_svix_4"), 400, "invalid_signature"},
			{"svix-* 5 min 1 s old", "/standard/acme", body, svix(standardHeaders(t, body, standardSecret, "msg_svix_5", now.Add(-301*time.Second))), 400, "invalid_signature"},
			{"webhook-id mixed with svix-*", "/standard/acme", body, mixed, 400, "invalid_signature"},
			{"signed, not JSON", "/standard/acme", []byte("hello"), standardHeaders(t, []byte("hello"), standardSecret, "msg_9", now), 400, "invalid_event"},
			{"signed, bad type", "/standard/acme", []byte(`{"type":7}`), standardHeaders(t, []byte(`{"type":7}`), standardSecret, "msg_10", now), 400, "invalid_event"},
		} {
			w := e.post(t, tc.path, tc.body, tc.header)
			if w.Code != tc.status || !strings.Contains(w.Body.String(), tc.want) {
				t.Fatalf("%s: %d %s, want %d %s", tc.name, w.Code, w.Body, tc.status, tc.want)
			}
		}
		ev, err := s.WebhookEvent(context.Background(), "standard:acme", "msg_1")
		if err != nil || ev.Data != string(body) || ev.Type != "invoice.created" || !ev.OccurredAt.Equal(now.Truncate(time.Second)) {
			t.Fatalf("recorded event = %+v, %v", ev, err)
		}
		sent := e.sender.messages()
		if len(sent) != 4 || sent[0].ID != "standard:acme/msg_1" || !strings.Contains(sent[0].Data, `"data":{"type":"invoice.created"`) {
			t.Fatalf("published %+v", sent)
		}
		if got := auditActions(t, s); got["webhook.event"] != 4 || got["webhook.rejected"] != 14 {
			t.Fatalf("audit actions = %v", got)
		}
	})
}
