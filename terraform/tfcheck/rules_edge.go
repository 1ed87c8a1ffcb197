package tfcheck

import (
	"slices"
	"strings"
)

// edgeWAFRules are the preconfigured Cloud Armor rule sets that fit a JSON
// API (INFRA-8).
func edgeWAFRules() []string {
	return []string{"lfi", "protocolattack", "rce", "scannerdetection", "sqli", "xss"}
}

// checkEdgePolicy: every backend service of the load balancer has a Cloud
// Armor policy, and the policy runs the WAF rule sets and a rate-based ban
// (INFRA-8).
func checkEdgePolicy(c *Config) []Issue {
	backends := c.Resources("google_compute_backend_service")
	issues := requireSome(backends, "google_compute_backend_service")
	for _, b := range backends {
		if len(attrRefs(b.Body, "google_compute_security_policy", "security_policy")) != 1 {
			issues = append(issues, issuef(b, "security_policy must reference the Cloud Armor policy"))
		}
	}
	policies := c.Resources("google_compute_security_policy")
	issues = append(issues, requireSome(policies, "google_compute_security_policy")...)
	for _, p := range policies {
		waf, _ := c.Local(p.Dir, "waf_rules")
		var got []string
		if waf.IsKnown() && !waf.IsNull() && waf.CanIterateElements() {
			for _, v := range waf.AsValueSlice() {
				s, _ := asString(v)
				got = append(got, s)
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, edgeWAFRules()) {
			issues = append(issues, issuef(p, "WAF rule sets %v, want %v", got, edgeWAFRules()))
		}
		if !strings.Contains(c.Source(p.Range), `"rate_based_ban"`) {
			issues = append(issues, issuef(p, "no rate_based_ban rule"))
		}
	}
	for _, b := range c.Resources("google_compute_url_map") {
		if strings.Contains(c.Source(b.Range), "default_url_redirect") && !strings.Contains(c.Source(b.Range), "https_redirect         = true") {
			issues = append(issues, issuef(b, "a redirecting URL map must redirect to HTTPS"))
		}
	}
	return issues
}
