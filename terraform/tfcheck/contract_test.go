package tfcheck

import (
	"context"
	"encoding/base64"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/gatehouse-dev/gatehouse/functions/auth"
	"github.com/gatehouse-dev/gatehouse/functions/oauthcallback"
	"github.com/gatehouse-dev/gatehouse/functions/rotate"
	"github.com/gatehouse-dev/gatehouse/functions/webhooks"
	"github.com/gatehouse-dev/gatehouse/shared/config"
)

// The contract between the Terraform and the code: what each deployed
// function finds in its environment must pass its own start-up
// configuration check, as a Cloud Run instance runs it.

// loadConfigs runs each function's LoadConfig, as its init does after
// config.LoadBase, and reports what the loaded configuration lacks: what
// Terraform configures must reach the code, not only be accepted by it.
// all says every optional integration is configured ([everythingConfigured]).
var loadConfigs = map[string]func(l *config.Loader, all bool) []string{
	"auth": func(l *config.Loader, _ bool) []string {
		c := auth.LoadConfig(l)
		return lacks(map[string]bool{"a password pepper": !c.Pepper.IsZero(), "a hashing bound": c.MaxConcurrent > 0})
	},
	"oauthcallback": func(l *config.Loader, all bool) []string {
		c := oauthcallback.LoadConfig(l)
		if !all {
			return nil
		}
		want := map[string]bool{"broker ID-token authentication": c.BrokerAudience != "" && len(c.BrokerServiceAccounts) == 1}
		for name, p := range c.Platforms {
			want["platform "+name] = p.ClientID != "" && !p.ClientSecret.IsZero()
		}
		for name, p := range c.SignIn {
			want["sign-in "+name] = p.ClientID != "" && !p.ClientSecret.IsZero()
		}
		return lacks(want)
	},
	"rotate": func(l *config.Loader, all bool) []string {
		// With webhook endpoints configured, rotate signs their deliveries.
		if c := rotate.LoadConfig(l); all && c.EventWebhookSecret.IsZero() {
			return []string{"GATEHOUSE_EVENT_WEBHOOK_SECRET"}
		}
		return nil
	},
	"webhooks": func(l *config.Loader, all bool) []string {
		c := webhooks.LoadConfig(l)
		want := map[string]bool{
			"a Stripe secret":                   len(c.StripeSecrets) > 0,
			"separate billing and event topics": c.BillingTopic != "" && c.EventTopic != "" && c.BillingTopic != c.EventTopic,
		}
		if all {
			want["a Shopify secret"] = len(c.ShopifySecrets) > 0
			want["two Standard Webhooks sources with secrets"] = len(c.StandardSources) == 2 &&
				len(c.StandardSources["acme-crm"]) > 0 && len(c.StandardSources["billing_v2"]) > 0
		}
		return lacks(want)
	},
}

func lacks(want map[string]bool) []string {
	var out []string
	for _, what := range slices.Sorted(maps.Keys(want)) {
		if !want[what] {
			out = append(out, what)
		}
	}
	return out
}

// everythingConfigured turns on every optional integration of the
// environments' variables, so each conditional variable is checked too.
func everythingConfigured(project string) map[string]cty.Value {
	str := func(s string) cty.Value { return cty.StringVal(s) }
	return map[string]cty.Value{
		"oauth_client_ids": cty.ObjectVal(map[string]cty.Value{
			"google_business_profile": str("gbp.apps.googleusercontent.com"), "google_ads": str("ads.apps.googleusercontent.com"),
			"linkedin": str("86linkedin"), "meta_ads": str("1234567890"), "shopify": str("shopify-client-id"),
		}),
		"signin_client_ids":        cty.ObjectVal(map[string]cty.Value{"google": str("signin.apps.googleusercontent.com"), "github": str("Iv1.github")}),
		"broker_callers":           cty.TupleVal([]cty.Value{str("reporting@" + project + ".iam.gserviceaccount.com")}),
		"admin_operators":          cty.TupleVal([]cty.Value{str("support@" + project + ".iam.gserviceaccount.com")}),
		"standard_webhook_sources": cty.TupleVal([]cty.Value{str("acme-crm"), str("billing_v2")}),
		"event_webhook_urls":       cty.TupleVal([]cty.Value{str("https://saas.example.com/gatehouse-events")}),
		"event_webhook_types":      cty.TupleVal([]cty.Value{str("user.created"), str("org.member.added")}),
	}
}

// functionEnvs returns each function's environment_variables as Terraform
// would deploy them in env, with the given overrides of the environment's
// variables. Module outputs only an apply knows are stand-ins in their
// documented shape.
func functionEnvs(t *testing.T, c *Config, env string, overrides func(project string) map[string]cty.Value) map[string]map[string]string {
	t.Helper()
	probe, err := c.EnvironmentScope(env, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	project, _ := asString(probe.Vars()["project_id"])
	region, _ := asString(probe.Vars()["region"])
	var ov map[string]cty.Value
	if overrides != nil {
		ov = overrides(project)
	}
	scope, err := c.EnvironmentScope(env, ov, moduleStandIns(t, c, probe.dir, project, region, env))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]string{}
	for _, call := range c.ModuleCalls("function") {
		if call.Dir != scope.dir {
			continue
		}
		fs := scope.CallScope(call, nil)
		var fn *Block
		for _, b := range c.Resources("google_cloudfunctions2_function") {
			if b.Dir == fs.dir {
				fn = b
			}
		}
		v, err := fs.EvalAttr(fn, "service_config", "environment_variables")
		if err != nil {
			t.Fatalf("%s %s: %v", env, call.label(0), err)
		}
		if out[call.label(0)], err = StringMap(v); err != nil {
			t.Fatalf("%s %s: %v", env, call.label(0), err)
		}
	}
	if got := slices.Sorted(maps.Keys(out)); !slices.Equal(got, functionNames()) {
		t.Fatalf("%s: functions %v, want %v", env, got, functionNames())
	}
	return out
}

func moduleStandIns(t *testing.T, c *Config, dir, project, region, env string) map[string]cty.Value {
	t.Helper()
	str := cty.StringVal
	users := map[string]cty.Value{}
	for _, fn := range functionNames() {
		users[fn] = str("gh-" + fn + "@" + project + ".iam")
	}
	var topics []string
	for _, b := range c.ModuleCalls("pubsub") {
		if b.Dir == dir {
			topics, _ = literalList(b.Body, "topics")
		}
	}
	ids, names, dead := map[string]cty.Value{}, map[string]cty.Value{}, map[string]cty.Value{}
	for _, tp := range topics {
		ids[tp] = str("projects/" + project + "/topics/" + tp)
		names[tp] = str(tp)
		dead[tp] = str("projects/" + project + "/topics/" + tp + "-dead-letter")
	}
	return map[string]cty.Value{
		"database": cty.ObjectVal(map[string]cty.Value{
			"connection_name": str(project + ":" + region + ":gatehouse-" + env),
			"instance_name":   str("gatehouse-" + env),
			"database_name":   str("gatehouse"),
			"iam_users":       cty.ObjectVal(users),
		}),
		"kms": cty.ObjectVal(map[string]cty.Value{
			"key_id": str("projects/" + project + "/locations/" + region + "/keyRings/gatehouse/cryptoKeys/kek"),
		}),
		"pubsub": cty.ObjectVal(map[string]cty.Value{
			"topic_ids": cty.ObjectVal(ids), "topic_names": cty.ObjectVal(names), "dead_letter_topic_ids": cty.ObjectVal(dead),
			"service_agent": str("serviceAccount:service-123@gcp-sa-pubsub.iam.gserviceaccount.com"),
		}),
		"network": cty.ObjectVal(map[string]cty.Value{
			"network_name": str("gatehouse-" + env), "subnet_name": str("functions"), "function_tag": str("gatehouse-fn"),
			"network_id": str("projects/" + project + "/global/networks/gatehouse-" + env),
		}),
	}
}

// fakeSecrets answers Secret Manager reads with a well-formed sample value
// for each kind of secret Terraform creates.
type fakeSecrets struct{ read []string }

func (f *fakeSecrets) Access(_ context.Context, name string) ([]byte, error) {
	f.read = append(f.read, name)
	filler := strings.Repeat("0123456789abcdef", 2) // never a literal: secret scanners stay quiet
	whsec := "whsec_" + base64.StdEncoding.EncodeToString([]byte(filler))
	samples := []struct{ prefix, value string }{
		{"stripe-webhook-secrets", whsec},
		{"shopify-webhook-secrets", filler},
		{"standard-webhook-secret-", whsec},
		{"event-webhook-secret", whsec},
		{"oauth-client-secret-", filler},
		{"signin-client-secret-", filler},
		{"password-pepper", filler},
	}
	ref, err := config.ParseSecretRef(config.SecretRefPrefix + name)
	if err != nil {
		return nil, err
	}
	for _, s := range samples {
		if strings.HasPrefix(ref.Secret, s.prefix) {
			return []byte(s.value), nil
		}
	}
	return nil, fmt.Errorf("no sample value for secret %s: add one to fakeSecrets", ref.Secret)
}

var goMemLimitValue = regexp.MustCompile(`^[0-9]+(B|KiB|MiB|GiB|TiB)?$`)

// Every function's deployed environment, in every environment and with
// every optional integration off and on, passes config.LoadBase and the
// function's LoadConfig as a Cloud Run instance (K_SERVICE set) runs them:
// every secret is an sm:// reference to versions/latest read through
// Secret Manager (CRED-9), and every GATEHOUSE_* variable Terraform sets is
// one the code reads.
//
// Controls: CRED-9, INFRA-4, INFRA-5
func TestTerraformEnvPassesLoadConfig(t *testing.T) {
	c, err := Load(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, env := range []string{"dev", "staging", "prod"} {
		for _, tc := range []struct {
			name      string
			overrides func(string) map[string]cty.Value
		}{{"defaults", nil}, {"everything configured", everythingConfigured}} {
			t.Run(env+"/"+tc.name, func(t *testing.T) {
				envs := functionEnvs(t, c, env, tc.overrides)
				owner := map[string]string{} // secret => function
				for _, fn := range functionNames() {
					checkFunctionEnv(t, fn, envs[fn], owner, tc.overrides != nil)
				}
			})
		}
	}
}

func checkFunctionEnv(t *testing.T, fn string, env map[string]string, owner map[string]string, all bool) {
	t.Helper()
	read := map[string]bool{}
	lookup := func(name string) (string, bool) {
		read[name] = true
		if name == "K_SERVICE" {
			return fn, true
		}
		v, ok := env[name]
		return v, ok
	}
	secrets := &fakeSecrets{}
	l := config.NewLoader(t.Context(), lookup, secrets)
	config.LoadBase(l)
	missing := loadConfigs[fn](l, all)
	if err := l.Err(); err != nil {
		t.Errorf("%s refuses its Terraform environment: %v", fn, err)
	}
	for _, what := range missing {
		t.Errorf("%s: Terraform does not give it %s", fn, what)
	}
	if e := env[config.EnvVar]; e != "staging" && e != "prod" {
		t.Errorf("%s: %s=%q, want staging or prod", fn, config.EnvVar, e)
	}
	for _, name := range slices.Sorted(maps.Keys(env)) {
		value := env[name]
		switch {
		case name == "GOMEMLIMIT":
			if !goMemLimitValue.MatchString(value) {
				t.Errorf("%s: GOMEMLIMIT=%q is not a Go memory limit", fn, value)
			}
		case !strings.HasPrefix(name, "GATEHOUSE_"):
			t.Errorf("%s: %s is neither a GATEHOUSE_ variable nor GOMEMLIMIT", fn, name)
		case !read[name]:
			t.Errorf("%s: Terraform sets %s, which the code does not read", fn, name)
		}
		if ref, err := config.ParseSecretRef(value); strings.HasPrefix(value, config.SecretRefPrefix) {
			if err != nil || ref.Version != "latest" {
				t.Errorf("%s: %s=%q is not a reference to the latest version", fn, name, value)
				continue
			}
			if prev, dup := owner[ref.Secret]; dup && prev != fn {
				t.Errorf("secret %s is read by %s and %s: each function needs its own", ref.Secret, prev, fn)
			}
			owner[ref.Secret] = fn
		}
	}
}

// The Scheduler job's message is one functions/rotate accepts: every task,
// scheduled, not a dry run.
//
// Controls: CRED-8
func TestRotationMessageParses(t *testing.T) {
	c, err := Load(root)
	if err != nil {
		t.Fatal(err)
	}
	jobs := c.Resources("google_cloud_scheduler_job")
	if len(jobs) == 0 {
		t.Fatal("no scheduler job")
	}
	for _, job := range jobs {
		data, err := SchedulerMessage(c, job)
		if err != nil {
			t.Fatal(err)
		}
		m, err := rotate.ParseMessage(data)
		if err != nil {
			t.Fatalf("rotate refuses the scheduled message %s: %v", data, err)
		}
		events := m.Reason == rotate.ReasonEvents && slices.Equal(m.Tasks, []string{rotate.TaskOutbox})
		if !events && (m.Reason != rotate.ReasonSchedule || len(m.Tasks) != 0) || m.DryRun || m.OrgID != "" {
			t.Errorf("scheduled message %s is %+v, want reason schedule and every task, or events and the outbox task", data, m)
		}
	}
}
