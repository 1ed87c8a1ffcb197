package tfcheck

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
)

// topicKey finds the topic a topic IAM member names: module.pubsub.topic_names["t"].
var topicKey = regexp.MustCompile(`^module\.pubsub\.topic_names\["([a-z-]+)"\]$`)

// checkPublishers: each topic is publishable by exactly the functions that
// publish to it ([publishers]), each through its own member binding on the
// topic, and no one holds a project-wide Pub/Sub role (INFRA-4).
func checkPublishers(c *Config) []Issue {
	var issues []Issue
	for _, typ := range []string{"google_pubsub_topic_iam_binding", "google_pubsub_topic_iam_policy"} {
		for _, b := range c.Resources(typ) {
			issues = append(issues, issuef(b, "%s is not allowed; bind one function per google_pubsub_topic_iam_member", typ))
		}
	}
	for _, b := range c.Resources("google_project_iam_member") {
		if role, _ := c.String(b, "role"); strings.HasPrefix(role, "roles/pubsub.") {
			issues = append(issues, issuef(b, "project-wide Pub/Sub role %s; grant it on the topic or subscription", role))
		}
	}
	fns := functionAccounts(c)
	got := map[string][]string{}
	for _, b := range c.Resources("google_pubsub_topic_iam_member") {
		fn, ok := memberFunction(b, fns)
		if !ok {
			continue // the Pub/Sub service agent on dead-letter topics
		}
		m := topicKey.FindStringSubmatch(c.attrSource(b.Body, "topic"))
		if role, _ := c.String(b, "role"); m == nil || role != "roles/pubsub.publisher" {
			issues = append(issues, issuef(b, "a function's topic binding must be roles/pubsub.publisher on module.pubsub.topic_names[\"<topic>\"]"))
			continue
		}
		got[m[1]] = append(got[m[1]], fn)
	}
	want := publishers()
	for _, t := range slices.Sorted(maps.Keys(mergeKeys(got, want))) {
		if g := sorted(got[t]); !slices.Equal(g, want[t]) {
			issues = append(issues, Issue{Where: "(configuration)", Msg: fmt.Sprintf("publishers of %s are %v, want %v", t, g, want[t])})
		}
	}
	return issues
}

func mergeKeys(a, b map[string][]string) map[string]bool {
	out := map[string]bool{}
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}
