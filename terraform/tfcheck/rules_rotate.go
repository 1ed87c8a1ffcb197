package tfcheck

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// checkRotateTrigger: Cloud Scheduler publishes rotation requests to the
// rotation topic at least daily and at most hourly (and events requests
// every 1 to 5 minutes), and a push subscription on that topic
// delivers to the rotate function as its only invoker, with retry, a
// dead-letter topic and an ack deadline covering the function timeout
// (CRED-8, docs/rotate.md). Eventarc triggers are not used: Terraform
// cannot give their subscription a dead-letter topic.
func checkRotateTrigger(c *Config) []Issue {
	var issues []Issue
	for _, b := range c.Resources("google_cloudfunctions2_function") {
		if len(nested(b.Body, "event_trigger")) > 0 {
			issues = append(issues, issuef(b, "event_trigger has no dead-letter topic; push from a subscription with dead_letter_policy"))
		}
	}
	calls := 0
	for _, call := range c.ModuleCalls("function") {
		if call.label(0) != "rotate" {
			continue
		}
		calls++
		issues = append(issues, checkRotatePush(c, call)...)
	}
	if calls == 0 {
		issues = append(issues, Issue{Where: "(configuration)", Msg: "no rotate function module call"})
	}
	rotations := 0
	for _, b := range c.Resources("google_cloud_scheduler_job") {
		topic := c.attrSource(b.Body, "pubsub_target", "topic_name")
		schedule, _ := c.String(b, "schedule")
		switch {
		case schedulerReason(c, b) == "events":
			if !strings.Contains(topic, `topic_ids["rotation"]`) || !everyFewMinutes(schedule) {
				issues = append(issues, issuef(b, "an events job must publish to the rotation topic every 1 to 5 minutes (got %q)", schedule))
			}
		case !strings.Contains(topic, `topic_ids["rotation"]`) || !hourlyToDaily(schedule):
			issues = append(issues, issuef(b, "must publish to the rotation topic hourly or daily (got %q)", schedule))
		default:
			rotations++
		}
	}
	if rotations == 0 {
		issues = append(issues, Issue{Where: "(configuration)", Msg: "no google_cloud_scheduler_job asks for rotation runs"})
	}
	return issues
}

// schedulerReason returns the reason of a scheduler job's message, "" when
// it has none or cannot be read (checkRotationMessage reports that).
func schedulerReason(c *Config, job *Block) string {
	data, err := SchedulerMessage(c, job)
	if err != nil {
		return ""
	}
	var m struct {
		Reason string `json:"reason"`
	}
	_ = json.Unmarshal(data, &m)
	return m.Reason
}

var everyFewMinutesCron = regexp.MustCompile(`^(\*|\*/[1-5]) \* \* \* \*$`)

// everyFewMinutes reports whether a cron schedule fires every 1 to 5
// minutes, all day.
func everyFewMinutes(cron string) bool {
	return everyFewMinutesCron.MatchString(strings.TrimSpace(cron))
}

// checkRotatePush checks the push subscription that feeds the rotate call.
func checkRotatePush(c *Config, call *Block) []Issue {
	invokers := attrRefs(call.Body, "google_service_account", "invokers")
	if len(invokers) != 1 {
		return []Issue{issuef(call, "invokers must name exactly one google_service_account (the push identity)")}
	}
	trigger := invokers[0]
	var issues []Issue
	for fn, sa := range functionAccounts(c) {
		if sa == trigger {
			issues = append(issues, issuef(call, "push identity google_service_account.%s is %s's runtime account", sa, fn))
		}
	}
	timeout, _ := literalInt(call.Body, "timeout_seconds")
	var sub *Block
	for _, b := range c.Resources("google_pubsub_subscription") {
		if b.Dir == call.Dir && slices.Contains(attrRefs(b.Body, "module", "push_config", "push_endpoint"), "rotate") {
			sub = b
		}
	}
	if sub == nil {
		return append(issues, issuef(call, "no google_pubsub_subscription pushes to module.rotate"))
	}
	ack, _ := literalInt(sub.Body, "ack_deadline_seconds")
	checks := []struct {
		ok   bool
		what string
	}{
		{strings.Contains(c.attrSource(sub.Body, "topic"), `topic_ids["rotation"]`), "topic must be the rotation topic"},
		{slices.Equal(attrRefs(sub.Body, "google_service_account", "push_config", "oidc_token", "service_account_email"), []string{trigger}),
			"push_config.oidc_token must sign as google_service_account." + trigger},
		{len(children(sub.Body, "retry_policy")) == 1 && attr(sub.Body, "retry_policy", "minimum_backoff") != nil &&
			attr(sub.Body, "retry_policy", "maximum_backoff") != nil, "retry_policy with minimum_backoff and maximum_backoff is required"},
		{strings.Contains(c.attrSource(sub.Body, "dead_letter_policy", "dead_letter_topic"), `dead_letter_topic_ids["rotation"]`),
			"dead_letter_policy must send to the rotation dead-letter topic"},
		{ack >= timeout && timeout > 0, fmt.Sprintf("ack_deadline_seconds %d must cover the literal timeout_seconds %d of rotate", ack, timeout)},
	}
	for _, ch := range checks {
		if !ch.ok {
			issues = append(issues, issuef(sub, "%s", ch.what))
		}
	}
	return issues
}

var cronNumber = regexp.MustCompile(`^[0-9]{1,2}$`)

// hourlyToDaily reports whether a cron schedule fires once an hour or once
// a day: a fixed minute, a fixed hour or every hour, every day.
func hourlyToDaily(cron string) bool {
	f := strings.Fields(cron)
	return len(f) == 5 && cronNumber.MatchString(f[0]) && (f[1] == "*" || cronNumber.MatchString(f[1])) &&
		f[2] == "*" && f[3] == "*" && f[4] == "*"
}

// checkRotationMessage: each Scheduler job publishes what functions/rotate
// parses (functions/rotate/message.go): one JSON object with reason
// "schedule" and no task list, so that every task runs and each acts only
// when due, or reason "events" with the outbox task alone; no dry run, no
// organization (CRED-8).
// TestRotationMessageParses runs the real parser on it.
func checkRotationMessage(c *Config) []Issue {
	var issues []Issue
	for _, b := range c.Resources("google_cloud_scheduler_job") {
		data, err := SchedulerMessage(c, b)
		if err != nil {
			issues = append(issues, issuef(b, "%v", err))
			continue
		}
		if msg := scheduleMessageProblem(data); msg != "" {
			issues = append(issues, issuef(b, "message %s: %s", data, msg))
		}
	}
	return issues
}

// SchedulerMessage returns the decoded Pub/Sub data of a scheduler job.
func SchedulerMessage(c *Config, job *Block) ([]byte, error) {
	v, err := c.NewScope(job.Dir, nil, nil).EvalAttr(job, "pubsub_target", "data")
	if err != nil {
		return nil, err
	}
	s, _ := asString(v)
	data, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("pubsub_target.data is not base64: %w", err)
	}
	return data, nil
}

func scheduleMessageProblem(data []byte) string {
	var m map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&m); err != nil || dec.More() {
		return "not one JSON object"
	}
	for k := range m {
		if !slices.Contains([]string{"tasks", "reason", "dry_run", "org_id"}, k) {
			return "unknown field " + k
		}
	}
	var reason string
	var tasks []string
	var dryRun bool
	_ = json.Unmarshal(m["reason"], &reason)
	if t, ok := m["tasks"]; ok && json.Unmarshal(t, &tasks) != nil {
		return "tasks is not a list"
	}
	if d, ok := m["dry_run"]; ok && json.Unmarshal(d, &dryRun) != nil {
		return "dry_run is not a boolean"
	}
	switch {
	case reason == "events" && (len(tasks) > 1 || len(tasks) == 1 && tasks[0] != "outbox"):
		return "an events message runs the outbox task alone"
	case reason == "events":
	case reason != "schedule":
		return `reason must be "schedule" or "events"`
	case len(tasks) > 0:
		return "tasks must be empty (every task, each only when due)"
	case dryRun:
		return "dry_run must be false"
	case m["org_id"] != nil:
		return "org_id is only for a suspected exposure"
	}
	return ""
}
