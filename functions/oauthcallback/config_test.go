package oauthcallback

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/api/idtoken"

	"github.com/gatehouse-dev/gatehouse/shared/bootstrap/bootstraptest"
	"github.com/gatehouse-dev/gatehouse/shared/config"
	"github.com/gatehouse-dev/gatehouse/shared/logging"
	"github.com/gatehouse-dev/gatehouse/shared/outbound"
	"github.com/gatehouse-dev/gatehouse/shared/web"
)

func loader(env map[string]string) *config.Loader {
	return config.NewLoader(context.Background(), func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}, nil)
}

// With nothing configured the function starts; platforms are unavailable
// and the broker refuses every call.
//
// Controls: APP-5
func TestStartsWithNothingConfigured(t *testing.T) {
	e := newTestEnv(t, bootstraptest.Backends[0])
	l := loader(nil)
	cfg := LoadConfig(l)
	if err := l.Err(); err != nil {
		t.Fatal(err)
	}
	h, err := New(e.Deps, cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.h = h
	if rec := e.do(t, http.MethodPost, "/connect/google_ads?org=org-a&return_to=/x", "", bearer(e.users["admin"])...); rec.Code != http.StatusNotFound {
		t.Fatalf("unconfigured platform: %d %s", rec.Code, rec.Body)
	}
	rec := e.do(t, http.MethodPost, "/internal/token", `{"org_id":"a","connection_id":"b"}`, "Authorization", "Bearer anything", "Content-Type", "application/json")
	if rec.Code != http.StatusUnauthorized {
		t.Fatalf("unconfigured broker: %d", rec.Code)
	}
}

// Controls: CRED-9
func TestLoadConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		bad  string // variable named in the error; "" for none
	}{
		{"platform configured", map[string]string{"GATEHOUSE_OAUTH_GOOGLE_ADS_CLIENT_ID": "id", "GATEHOUSE_OAUTH_GOOGLE_ADS_CLIENT_SECRET": "s"}, ""},
		{"client id without secret", map[string]string{"GATEHOUSE_OAUTH_LINKEDIN_CLIENT_ID": "id"}, "GATEHOUSE_OAUTH_LINKEDIN_CLIENT_SECRET"},
		{"plain secret in prod", map[string]string{"GATEHOUSE_ENV": "prod", "GATEHOUSE_OAUTH_LINKEDIN_CLIENT_ID": "id",
			"GATEHOUSE_OAUTH_LINKEDIN_CLIENT_SECRET": "plain"}, "GATEHOUSE_OAUTH_LINKEDIN_CLIENT_SECRET"},
		{"shared broker secret in prod", map[string]string{"GATEHOUSE_ENV": "prod", "GATEHOUSE_BROKER_SECRET": "sm://projects/p/secrets/s/versions/1"}, "GATEHOUSE_BROKER_SECRET"},
		{"short broker secret", map[string]string{"GATEHOUSE_BROKER_SECRET": "short"}, "GATEHOUSE_BROKER_SECRET"},
		{"audience without accounts", map[string]string{"GATEHOUSE_BROKER_AUDIENCE": "https://gh.example.com"}, "GATEHOUSE_BROKER_ALLOWED_SERVICE_ACCOUNTS"},
		{"app url with a path", map[string]string{"GATEHOUSE_APP_URL": "https://app.example.com/x"}, "GATEHOUSE_APP_URL"},
	} {
		l := loader(tc.env)
		LoadConfig(l)
		err := l.Err()
		if (err != nil) != (tc.bad != "") || (err != nil && !strings.Contains(err.Error(), tc.bad)) {
			t.Errorf("%s: err = %v, want one naming %q", tc.name, err, tc.bad)
		}
	}
}

// Production broker callers: a valid Google ID token with a verified
// e-mail on the allowlist.
//
// Controls: AUTHZ-2
func TestBrokerIDTokenMode(t *testing.T) {
	a, err := newCallerAuth(Config{BrokerAudience: "https://gh.example.com", BrokerServiceAccounts: []string{"Reports@P.iam.gserviceaccount.com"},
		BrokerSecret: logging.NewSecret("ignored-in-id-token-mode-0123456789")}, outbound.New(outbound.Options{}))
	if err != nil {
		t.Fatal(err)
	}
	a.validate = func(_ context.Context, tok, aud string) (*idtoken.Payload, error) {
		if aud != "https://gh.example.com" {
			return nil, errors.New("wrong audience")
		}
		switch tok {
		case "good":
			return &idtoken.Payload{Claims: map[string]any{"email": "reports@p.iam.gserviceaccount.com", "email_verified": true}}, nil
		case "other":
			return &idtoken.Payload{Claims: map[string]any{"email": "other@p.iam.gserviceaccount.com", "email_verified": true}}, nil
		case "unverified":
			return &idtoken.Payload{Claims: map[string]any{"email": "reports@p.iam.gserviceaccount.com"}}, nil
		}
		return nil, errors.New("bad signature")
	}
	for _, tc := range []struct {
		name, header string
		status       int
	}{
		{"allowed service account", "Bearer good", 0},
		{"other service account", "Bearer other", 403},
		{"unverified e-mail", "Bearer unverified", 403},
		{"forged token", "Bearer forged", 401},
		{"shared secret is not accepted", "Bearer ignored-in-id-token-mode-0123456789", 401},
		{"basic auth", "Basic Z29vZA==", 401},
	} {
		r, _ := http.NewRequest(http.MethodPost, "/internal/token", nil)
		r.Header.Set("Authorization", tc.header)
		_, err := a.authenticate(r)
		if got := statusOf(err); got != tc.status {
			t.Errorf("%s: status %d, want %d (%v)", tc.name, got, tc.status, err)
		}
	}
}

func statusOf(err error) int {
	if err == nil {
		return 0
	}
	return web.AsError(err).Status
}
