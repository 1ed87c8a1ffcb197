package webhooks

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/shared/config"
)

type fakeSecrets map[string]string

func (f fakeSecrets) Access(_ context.Context, name string) ([]byte, error) {
	v, ok := f[name]
	if !ok {
		return nil, errors.New("no such secret")
	}
	return []byte(v), nil
}

func load(env map[string]string, sm fakeSecrets) (Config, error) {
	l := config.NewLoader(context.Background(), func(k string) (string, bool) { v, ok := env[k]; return v, ok }, sm)
	cfg := LoadConfig(l)
	return cfg, l.Err()
}

// Secrets come from Secret Manager outside dev, may hold several values for
// a roll, and a bad one is reported without its value.
//
// Controls: CRED-9, APP-5
func TestLoadConfig(t *testing.T) {
	const ref = "sm://projects/gatehouse-prod/secrets/stripe-webhook/versions/3"
	prod := func(m map[string]string) map[string]string {
		m["GATEHOUSE_ENV"], m["GATEHOUSE_PROJECT_ID"] = "prod", "gatehouse-prod"
		return m
	}
	tests := []struct {
		name    string
		env     map[string]string
		sm      fakeSecrets
		check   func(Config) bool
		wantErr string
	}{
		{"dev with nothing configured starts, receivers closed", map[string]string{}, nil, func(c Config) bool {
			return len(c.StripeSecrets) == 0 && len(c.ShopifySecrets) == 0 && len(c.StandardSources) == 0 &&
				c.MaxBody == 64<<10 && c.BillingTopic == "" && c.ShopifyMaxAge.Hours() == 1
		}, ""},
		{"dev, plain secrets and sources", map[string]string{
			varStripeSecrets: stripeSecret + ", " + stripeSecretOld, varShopifySecret: shopifySecret,
			varStandardSources: "acme,billing-x", "GATEHOUSE_STANDARD_WEBHOOK_SECRET_ACME": standardSecret,
			"GATEHOUSE_STANDARD_WEBHOOK_SECRET_BILLING_X": standardOtherSecret + " " + standardSecret,
			varMaxBody: "131072", varShopifyMaxAge: "30m", varBillingTopic: "billing", "GATEHOUSE_PROJECT_ID": "gatehouse-dev",
		}, nil, func(c Config) bool {
			return len(c.StripeSecrets) == 2 && c.StripeSecrets[1].Reveal() == stripeSecretOld && len(c.StandardSources["billing-x"]) == 2 &&
				c.MaxBody == 131072 && c.ShopifyMaxAge.Minutes() == 30 &&
				c.BillingTopic == "projects/gatehouse-dev/topics/billing" && c.EventTopic == c.BillingTopic
		}, ""},
		{"prod, rolled secrets from Secret Manager", prod(map[string]string{varStripeSecrets: ref, varBillingTopic: "projects/gatehouse-prod/topics/billing"}),
			fakeSecrets{strings.TrimPrefix(ref, "sm://"): stripeSecret + "\n" + stripeSecretOld + "\n"}, func(c Config) bool {
				return len(c.StripeSecrets) == 2 && c.StripeSecrets[0].Reveal() == stripeSecret
			}, ""},
		{"prod, plain secret", prod(map[string]string{varStripeSecrets: stripeSecret, varBillingTopic: "billing"}), nil, nil, varStripeSecrets},
		{"prod without a topic", prod(map[string]string{}), nil, nil, varBillingTopic},
		{"not a Stripe secret", map[string]string{varStripeSecrets: "sk_live_do_not_echo_me"}, nil, nil, varStripeSecrets},
		{"source without its secret", map[string]string{varStandardSources: "acme"}, nil, nil, "GATEHOUSE_STANDARD_WEBHOOK_SECRET_ACME"},
		{"bad source name", map[string]string{varStandardSources: "Acme!"}, nil, nil, varStandardSources},
		{"standard secret too short", map[string]string{varStandardSources: "a", "GATEHOUSE_STANDARD_WEBHOOK_SECRET_A": "whsec_c2hvcnQ="}, nil, nil, "GATEHOUSE_STANDARD_WEBHOOK_SECRET_A"},
		{"body limit too small", map[string]string{varMaxBody: "10"}, nil, nil, varMaxBody},
		{"topic id without project", map[string]string{varBillingTopic: "billing"}, nil, nil, varBillingTopic},
	}
	for _, tc := range tests {
		cfg, err := load(tc.env, tc.sm)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Fatalf("%s: %v", tc.name, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Fatalf("%s: err = %v, want one naming %s", tc.name, err, tc.wantErr)
		case tc.check != nil && !tc.check(cfg):
			t.Fatalf("%s: config %+v", tc.name, cfg)
		}
		if err != nil {
			for _, v := range tc.env {
				if strings.Contains(v, "whsec_") || strings.HasPrefix(v, "sk_") {
					if strings.Contains(err.Error(), v) {
						t.Fatalf("%s: error repeats a secret: %v", tc.name, err)
					}
				}
			}
		}
	}
}
