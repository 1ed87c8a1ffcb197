package tfcheck

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// checkEnvironments: dev, staging and prod are separate root modules, each
// with its own state location, project and network range (INFRA-5).
func checkEnvironments(c *Config) []Issue {
	var issues []Issue
	seen := map[string]string{} // a value that must be unique => environment
	unique := func(env, kind, v string) {
		if prev, dup := seen[kind+"="+v]; dup {
			issues = append(issues, Issue{Where: "environments/" + env, Msg: fmt.Sprintf("shares %s %q with %s", kind, v, prev)})
		}
		seen[kind+"="+v] = env
	}
	for _, env := range []string{"dev", "staging", "prod"} {
		dir := "environments/" + env
		state, ok := backendOf(c, dir)
		if !ok {
			issues = append(issues, Issue{Where: dir, Msg: "no gcs backend with a literal bucket and prefix"})
		}
		unique(env, "state", state)
		call := moduleIn(c, dir, "gatehouse")
		if call == nil {
			issues = append(issues, Issue{Where: dir, Msg: "does not call modules/gatehouse"})
			continue
		}
		if e, _ := literalString(call.Body, "env"); e != env {
			issues = append(issues, issuef(call, "env must be %q, got %q", env, e))
		}
		cidr, _ := literalString(call.Body, "subnet_cidr")
		unique(env, "subnet_cidr", cidr)
		project, _ := literalVar(c, dir+"/terraform.tfvars", "project_id")
		if project == "" {
			issues = append(issues, Issue{Where: dir, Msg: "terraform.tfvars has no literal project_id"})
		}
		unique(env, "project_id", project)
	}
	return issues
}

func backendOf(c *Config, dir string) (string, bool) {
	for _, b := range c.Blocks {
		if b.Type != "terraform" || b.Dir != dir {
			continue
		}
		for _, be := range b.Body.Blocks {
			if be.Type == "backend" && len(be.Labels) == 1 && be.Labels[0] == "gcs" {
				bucket, ok1 := literalString(be.Body, "bucket")
				prefix, ok2 := literalString(be.Body, "prefix")
				return bucket + "/" + prefix, ok1 && ok2
			}
		}
	}
	return "", false
}

func moduleIn(c *Config, dir, name string) *Block {
	for _, b := range c.ModuleCalls(name) {
		if b.Dir == dir {
			return b
		}
	}
	return nil
}

func literalVar(c *Config, file, name string) (string, bool) {
	a, ok := c.Vars[file][name]
	if !ok {
		return "", false
	}
	v, ok := literal(a.Expr)
	if !ok {
		return "", false
	}
	return asString(v)
}

// checkProviderPinned: every module pins the google provider to one
// version and states the Terraform versions it supports.
func checkProviderPinned(c *Config) []Issue {
	exact := regexp.MustCompile(`^=?\s*\d+\.\d+\.\d+$`)
	var issues []Issue
	dirs := map[string]bool{}
	for _, b := range c.Blocks {
		if b.Type == "resource" || b.Type == "module" {
			dirs[b.Dir] = false
		}
	}
	for _, b := range c.Blocks {
		if b.Type != "terraform" {
			continue
		}
		if attr(b.Body, "required_version") == nil {
			issues = append(issues, issuef(b, "required_version is not set"))
		}
		v, ok := literalValue(b.Body, "required_providers", "google")
		if !ok || !v.Type().IsObjectType() || !v.Type().HasAttribute("version") {
			continue
		}
		if s, _ := asString(v.GetAttr("version")); !exact.MatchString(s) {
			issues = append(issues, issuef(b, "google provider version %q is not pinned to one release", s))
			continue
		}
		dirs[b.Dir] = true
	}
	for _, d := range sortedDirs(dirs) {
		if !dirs[d] {
			issues = append(issues, Issue{Where: d, Msg: "no pinned google provider in required_providers"})
		}
	}
	return issues
}

func sortedDirs(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for d := range m {
		out = append(out, d)
	}
	slices.Sort(out)
	return out
}

// checkLockedLogBucket: audit and security logs go through a sink into a
// locked bucket that keeps them at least 365 days (INFRA-7, AUDIT-3).
func checkLockedLogBucket(c *Config) []Issue {
	buckets := c.Resources("google_logging_project_bucket_config")
	issues := requireSome(buckets, "google_logging_project_bucket_config")
	var good []string
	for _, b := range buckets {
		days, _ := literalInt(b.Body, "retention_days")
		locked := literalBool(b.Body, true, "locked")
		if days < 365 || !locked {
			issues = append(issues, issuef(b, "needs retention_days >= 365 and locked = true (got %d, %v)", days, locked))
			continue
		}
		good = append(good, b.label(1))
	}
	fed := false
	for _, s := range c.Resources("google_logging_project_sink") {
		to := attrRefs(s.Body, "google_logging_project_bucket_config", "destination")
		filter := c.attrSource(s.Body, "filter")
		if len(to) == 1 && slices.Contains(good, to[0]) && strings.Contains(filter, `"cloudaudit.googleapis.com"`) {
			fed = true
		}
	}
	if !fed {
		issues = append(issues, Issue{Where: "(configuration)", Msg: "no sink sends cloudaudit logs to a locked 365-day bucket"})
	}
	return issues
}

// checkAlertPolicies: alerts exist for authentication failure spikes, the
// 5xx rate and latency (INFRA-7).
func checkAlertPolicies(c *Config) []Issue {
	want := map[string]*regexp.Regexp{
		"authentication failures": regexp.MustCompile(`logging\.googleapis\.com/user/\$\{google_logging_metric\.auth_failures\.name\}`),
		"5xx rate":                regexp.MustCompile(`run\.googleapis\.com/request_count.*response_code_class=\\"5xx\\"`),
		"latency":                 regexp.MustCompile(`run\.googleapis\.com/request_latencies`),
	}
	var filters []string
	for _, b := range c.Resources("google_monitoring_alert_policy") {
		for _, cond := range nested(b.Body, "conditions", "condition_threshold") {
			if a := cond.Attributes["filter"]; a != nil {
				filters = append(filters, c.Source(a.Expr.Range()))
			}
		}
	}
	var issues []Issue
	for _, what := range []string{"authentication failures", "5xx rate", "latency"} {
		if !slices.ContainsFunc(filters, want[what].MatchString) {
			issues = append(issues, Issue{Where: "(configuration)", Msg: "no alert policy on " + what})
		}
	}
	return issues
}

// checkPubSubDeadLetters: the topics exist, each with a dead-letter topic,
// and every subscription dead-letters.
func checkPubSubDeadLetters(c *Config) []Issue {
	var issues []Issue
	for _, b := range c.ModuleCalls("pubsub") {
		got, _ := literalList(b.Body, "topics")
		if !hasAll(got, topics()) {
			issues = append(issues, issuef(b, "topics %v must include %v", got, topics()))
		}
	}
	deadLetter := ""
	for _, b := range c.Resources("google_pubsub_topic") {
		if strings.HasSuffix(c.attrSource(b.Body, "name"), `-dead-letter"`) && attr(b.Body, "for_each") != nil {
			deadLetter = b.label(1)
		}
	}
	if deadLetter == "" {
		issues = append(issues, Issue{Where: "(configuration)", Msg: "no per-topic <name>-dead-letter topic"})
	}
	for _, b := range c.Resources("google_pubsub_subscription") {
		onDLQ := slices.Contains(attrRefs(b.Body, "google_pubsub_topic", "topic"), deadLetter)
		if !onDLQ && len(children(b.Body, "dead_letter_policy")) == 0 {
			issues = append(issues, issuef(b, "subscription has no dead_letter_policy"))
		}
	}
	return append(issues, requireSome(c.ModuleCalls("pubsub"), "module call of modules/pubsub")...)
}

// checkAuditLogRouting: the functions' audit lines (shared/audit logs each
// event with "log_type":"audit") and warnings reach the locked bucket, and
// the authentication-failure metric counts the audit lines of refused
// sign-ins: action auth.login (or auth.mfa), outcome failure, from auth
// (INFRA-7, AUDIT-1). TestAuditFiltersMatchFunctionLogs checks both filters
// against the lines the code really writes.
func checkAuditLogRouting(c *Config) []Issue {
	var issues []Issue
	sinks := c.Resources("google_logging_project_sink")
	issues = append(issues, requireSome(sinks, "google_logging_project_sink")...)
	for _, b := range sinks {
		filter := c.attrSource(b.Body, "filter")
		for _, want := range []string{`jsonPayload.log_type="audit"`, `severity>=WARNING`, `resource.type="cloud_run_revision"`} {
			if !strings.Contains(filter, want) {
				issues = append(issues, issuef(b, "sink filter does not select %s", want))
			}
		}
	}
	metrics := c.Resources("google_logging_metric")
	issues = append(issues, requireSome(metrics, "google_logging_metric")...)
	for _, b := range metrics {
		if b.label(1) != "auth_failures" {
			continue
		}
		filter, _ := c.String(b, "filter")
		for _, want := range []string{`resource.labels.service_name="auth"`, `jsonPayload.log_type="audit"`, `"auth.login"`, `jsonPayload.outcome="failure"`} {
			if !strings.Contains(filter, want) {
				issues = append(issues, issuef(b, "auth failure filter does not require %s", want))
			}
		}
	}
	return issues
}
