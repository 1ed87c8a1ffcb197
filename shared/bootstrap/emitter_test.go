package bootstrap_test

import (
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/bootstrap"
	"github.com/gatehouse-dev/gatehouse/shared/config"
	"github.com/gatehouse-dev/gatehouse/shared/events"
)

// Event webhook endpoints are checked by the outbound client at start:
// in staging and prod one it would refuse (a metadata, private or
// loopback address) stops the start instead of failing every delivery;
// dev exempts only a loopback receiver. Kinds name known event types.
//
// Controls: APP-7
func TestNewEmitterChecksEndpoints(t *testing.T) {
	for _, tc := range []struct {
		name  string
		env   config.Env
		urls  []string
		kinds []string
		err   string
	}{
		{"public https", config.EnvProd, []string{"https://saas.example.com/hooks"}, []string{"user.created"}, ""},
		{"metadata", config.EnvProd, []string{"https://169.254.169.254/computeMetadata/v1/"}, nil, "refused to connect to 169.254.169.254 (metadata)"},
		{"private", config.EnvStaging, []string{"https://saas.example.com/", "https://10.1.2.3/hooks"}, nil, "refused to connect to 10.1.2.3"},
		{"localhost in prod", config.EnvProd, []string{"https://localhost:8443/hooks"}, nil, "loopback"},
		{"localhost in dev", config.EnvDev, []string{"http://localhost:9000/hooks"}, nil, ""},
		{"private in dev", config.EnvDev, []string{"https://192.168.1.10/hooks"}, nil, "refused to connect to 192.168.1.10"},
		{"unknown kind", config.EnvProd, []string{"https://saas.example.com/hooks"}, []string{"user.exploded"}, `unknown event kind "user.exploded"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := config.Base{Env: tc.env, EventWebhooks: tc.urls, EventWebhookTypes: tc.kinds}
			e, err := bootstrap.NewEmitter(base, time.Now, nil)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || len(e.Webhooks) != len(tc.urls) || e.Webhooks[0].URL != tc.urls[0] {
				t.Fatalf("emitter %+v, %v", e, err)
			}
			if len(tc.kinds) > 0 && (!e.Webhooks[0].Wants(events.UserCreated) || e.Webhooks[0].Wants(events.MFAChanged)) {
				t.Fatalf("types %v", e.Webhooks[0].Types)
			}
		})
	}
}
