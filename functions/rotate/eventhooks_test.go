package rotate

import (
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/gatehouse-dev/gatehouse/shared/config"
	"github.com/gatehouse-dev/gatehouse/shared/events"
	"github.com/gatehouse-dev/gatehouse/shared/logging"
	"github.com/gatehouse-dev/gatehouse/shared/outbound/outboundtest"
	"github.com/gatehouse-dev/gatehouse/shared/store"
)

var hookSecret = "whsec_" + base64.StdEncoding.EncodeToString([]byte("rotate-test-secret-32-bytes-long"))

// The outbox task delivers committed events to the configured webhook
// endpoint, signed as the Standard Webhooks library verifies, beside the
// outbox republisher; what it delivered is counted in the report.
func TestOutboxTaskDeliversEventWebhooks(t *testing.T) {
	f := newFixture(t, "sqlite")
	wh, err := standardwebhooks.NewWebhook(hookSecret)
	if err != nil {
		t.Fatal(err)
	}
	var got atomic.Int32
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		// The test clock is not the wall clock: the timestamp is compared
		// with it here, the signature by the library.
		if err := wh.VerifyIgnoringTimestamp(body, r.Header); err != nil ||
			r.Header.Get("webhook-timestamp") != strconv.FormatInt(f.Clock.Now().Unix(), 10) {
			t.Errorf("verify: %v (timestamp %s)", err, r.Header.Get("webhook-timestamp"))
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		got.Add(1)
	}))
	t.Cleanup(srv.Close)
	endpoint := srv.URL + "/gatehouse-events"
	f.Deps.Config.EventWebhooks = []string{endpoint}
	f.Events.Webhooks = []events.Endpoint{{URL: endpoint}}
	ctx := context.Background()
	err = f.Store.Tx(ctx, func(tx store.Store) error { return f.Events.Emit(ctx, tx, events.Key("data", "dk_2")) })
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig()
	cfg.EventWebhookSecret = logging.NewSecret(hookSecret)
	r := f.rotator(t, cfg, WithEventHookClient(outboundtest.Client(t, srv)))
	rep, err := r.Run(ctx, Request{ID: "m1", Message: schedule(TaskOutbox)})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Count(TaskOutbox, "webhooks_delivered") != 1 || got.Load() != 1 || logging.SensitiveKey("webhooks_delivered") {
		t.Fatalf("report %+v, %d received", rep.Tasks, got.Load())
	}
}

// Endpoints without a signing secret stop the start in staging and prod;
// a secret that is not whsec_ is refused by the configuration.
//
// Controls: CRED-9
func TestEventWebhooksNeedSecret(t *testing.T) {
	f := newFixture(t, "sqlite")
	f.Deps.Config.Env = config.EnvStaging
	f.Deps.Config.EventWebhooks = []string{"https://saas.example.com/hooks"}
	if _, err := New(f.Deps, testConfig(), WithKEK(f.kek), WithOutbox()); err == nil ||
		!strings.Contains(err.Error(), "GATEHOUSE_EVENT_WEBHOOK_SECRET") {
		t.Fatalf("New without a secret: %v", err)
	}
	l := config.NewLoader(context.Background(), func(name string) (string, bool) {
		if name == "GATEHOUSE_EVENT_WEBHOOK_SECRET" {
			return "not-a-whsec-secret", true
		}
		return "", false
	}, nil)
	LoadConfig(l)
	if err := l.Err(); err == nil || !strings.Contains(err.Error(), "GATEHOUSE_EVENT_WEBHOOK_SECRET: not a whsec_ secret") ||
		strings.Contains(err.Error(), "not-a-whsec-secret") {
		t.Fatalf("LoadConfig: %v", err)
	}
}
