package tfcheck

import (
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/gatehouse-dev/gatehouse/functions/auth"
	"github.com/gatehouse-dev/gatehouse/shared/audit"
	"github.com/gatehouse-dev/gatehouse/shared/bootstrap/bootstraptest"
	"github.com/gatehouse-dev/gatehouse/shared/logging/logtest"
)

// cloudRunEntry is a function's JSON log line as Cloud Logging stores it:
// severity at the top, every other field under jsonPayload, the Cloud Run
// resource around it.
func cloudRunEntry(service string, line logtest.Entry) map[string]string {
	e := map[string]string{
		"logName":                      "projects/p/logs/run.googleapis.com%2Fstdout",
		"resource.type":                "cloud_run_revision",
		"resource.labels.service_name": service,
	}
	for k, v := range line {
		switch {
		case k == "severity":
			e["severity"] = fmt.Sprint(v)
		case k == "time" || strings.HasPrefix(k, "logging.googleapis.com/"):
		default:
			flatten(e, "jsonPayload."+k, v)
		}
	}
	return e
}

func flatten(out map[string]string, key string, v any) {
	if m, ok := v.(map[string]any); ok {
		for k, x := range m {
			flatten(out, key+"."+k, x)
		}
		return
	}
	out[key] = fmt.Sprint(v)
}

// observabilityFilters returns the audit sink's filter and the auth
// failure metric's filter as Terraform would create them.
func observabilityFilters(t *testing.T, c *Config) (sink, metric string) {
	t.Helper()
	names := make([]cty.Value, 0, len(functionNames()))
	for _, fn := range functionNames() {
		names = append(names, cty.StringVal(fn))
	}
	s := c.NewScope("modules/observability", map[string]cty.Value{
		"project_id": cty.StringVal("p"), "function_services": cty.ListVal(names)}, nil)
	eval := func(b *Block) string {
		v, err := s.EvalAttr(b, "filter")
		if err != nil {
			t.Fatal(err)
		}
		str, _ := asString(v)
		return str
	}
	for _, b := range c.Resources("google_logging_project_sink") {
		sink = eval(b)
	}
	for _, b := range c.Resources("google_logging_metric") {
		if b.label(1) == "auth_failures" {
			metric = eval(b)
		}
	}
	if sink == "" || metric == "" {
		t.Fatal("no audit sink or auth failure metric")
	}
	return sink, metric
}

// The locked bucket's sink keeps the audit lines the functions really
// write, and the authentication-failure alert counts the line the auth
// function really writes for a refused sign-in, and nothing else.
//
// The sequencer's signed checkpoint line goes to the locked bucket too,
// from whichever function integrated the batch (AUDIT-5).
//
// Controls: INFRA-7, AUDIT-1, AUDIT-3, AUDIT-5
func TestAuditFiltersMatchFunctionLogs(t *testing.T) {
	c, err := Load(root)
	if err != nil {
		t.Fatal(err)
	}
	sinkFilter, metricFilter := observabilityFilters(t, c)
	failed := failedLoginAuditLine(t)
	checkpoint := checkpointAuditLine(t, "auth")
	checkpointRotate := checkpointAuditLine(t, "rotate")

	match := func(filter string, e map[string]string) bool {
		t.Helper()
		ok, err := matchFilter(filter, e)
		if err != nil {
			t.Fatalf("filter %q: %v", filter, err)
		}
		return ok
	}
	succeeded := maps.Clone(failed)
	succeeded["jsonPayload.outcome"] = "success"
	fromWebhooks := maps.Clone(failed)
	fromWebhooks["resource.labels.service_name"] = "webhooks"
	plain := map[string]string{"resource.type": "cloud_run_revision", "resource.labels.service_name": "auth",
		"severity": "INFO", "jsonPayload.message": "request served"}
	warning := maps.Clone(plain)
	warning["severity"] = "WARNING"
	cloudAudit := map[string]string{"logName": "projects/p/logs/cloudaudit.googleapis.com%2Fdata_access", "resource.type": "audited_resource"}

	tests := []struct {
		name         string
		entry        map[string]string
		sink, metric bool
	}{
		{"refused sign-in", failed, true, true},
		{"signed checkpoint (auth)", checkpoint, true, false},
		{"signed checkpoint (rotate)", checkpointRotate, true, false},
		{"successful sign-in", succeeded, true, false},
		{"audit line of another function", fromWebhooks, true, false},
		{"ordinary request log", plain, false, false},
		{"warning", warning, true, false},
		{"Cloud Audit Log", cloudAudit, true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := match(sinkFilter, tc.entry); got != tc.sink {
				t.Errorf("sink filter matches %v = %v, want %v", tc.entry, got, tc.sink)
			}
			if got := match(metricFilter, tc.entry); got != tc.metric {
				t.Errorf("auth failure filter matches %v = %v, want %v", tc.entry, got, tc.metric)
			}
		})
	}
}

// failedLoginAuditLine signs in to the real auth function with a wrong
// password and returns the audit line it logs, as Cloud Logging stores it.
func failedLoginAuditLine(t *testing.T) map[string]string {
	t.Helper()
	env := bootstraptest.New(t, bootstraptest.SQLite(t))
	const wrong = "not-the-right-one-42"
	env.Logs.Plant(wrong)
	h, err := auth.New(env.Deps, auth.Config{})
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodPost, "/login",
		strings.NewReader(`{"email":"nobody@example.com","password":"`+wrong+`"}`))
	req.Header.Set("Content-Type", "application/json")
	req.RemoteAddr = "192.0.2.10:4711"
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusUnauthorized {
		t.Fatalf("login with a wrong password: %d %s", rec.Code, rec.Body)
	}
	for _, line := range env.Logs.Lines() {
		e := cloudRunEntry("auth", line)
		if e["jsonPayload.log_type"] == "audit" && e["jsonPayload.outcome"] == "failure" {
			return e
		}
	}
	t.Fatalf("no failure audit line among %d log lines", len(env.Logs.Lines()))
	return nil
}

// checkpointAuditLine records an event, integrates it with the real
// sequencer and returns the signed-checkpoint line it logs, as Cloud
// Logging stores it for service.
func checkpointAuditLine(t *testing.T, service string) map[string]string {
	t.Helper()
	env := bootstraptest.New(t, bootstraptest.SQLite(t))
	if _, err := env.Audit.Record(t.Context(), audit.Event{Actor: "u1", Action: "auth.login"}); err != nil {
		t.Fatal(err)
	}
	env.IntegrateAudit(t)
	for _, line := range env.Logs.Lines() {
		e := cloudRunEntry(service, line)
		if e["jsonPayload.action"] == "audit.checkpoint" {
			if cp := e["jsonPayload.checkpoint"]; !strings.Contains(cp, "\n1\n") || !strings.Contains(cp, "\n\n\u2014 ") {
				t.Fatalf("checkpoint line without a signed note of size 1: %q", cp)
			}
			return e
		}
	}
	t.Fatalf("no checkpoint line among %d log lines", len(env.Logs.Lines()))
	return nil
}

func TestLogFilterInterpreter(t *testing.T) {
	e := map[string]string{"a": "x", "b": "y", "severity": "ERROR"}
	tests := []struct {
		filter string
		want   bool
	}{
		{`a="x"`, true},
		{`a="X"`, true},
		{`a="z"`, false},
		{`a=("z" OR "x")`, true},
		{`a="z" OR b="y"`, true},
		{`a="x" AND b="z"`, false},
		{`a="x" b="y"`, true},
		{`a="z" AND b="y" OR b="q"`, false}, // OR binds tighter: z AND (y OR q)
		{`NOT a="z"`, true},
		{`c:*`, false},
		{`a:*`, true},
		{`severity>=WARNING`, true},
		{`severity>=CRITICAL`, false},
		{`(a="z" OR (b="y" AND a="x"))`, true},
	}
	for _, tc := range tests {
		got, err := matchFilter(tc.filter, e)
		if err != nil || got != tc.want {
			t.Errorf("matchFilter(%q) = %v, %v; want %v", tc.filter, got, err, tc.want)
		}
	}
}
