package tfcheck

import (
	"slices"
	"strconv"
	"strings"
)

// maxRotationSeconds is 90 days.
const maxRotationSeconds = 90 * 24 * 3600

// checkKMSRotation: every key rotates at least every 90 days (INFRA-3).
func checkKMSRotation(c *Config) []Issue {
	keys := c.Resources("google_kms_crypto_key")
	issues := requireSome(keys, "google_kms_crypto_key")
	for _, b := range keys {
		p, _ := literalString(b.Body, "rotation_period")
		secs, err := strconv.ParseFloat(strings.TrimSuffix(p, "s"), 64)
		if !strings.HasSuffix(p, "s") || err != nil || secs <= 0 || secs > maxRotationSeconds {
			issues = append(issues, issuef(b, "rotation_period %q must be a literal of at most 7776000s", p))
		}
	}
	return issues
}

// checkKMSPreventDestroy: key rings and keys cannot be destroyed by Terraform.
func checkKMSPreventDestroy(c *Config) []Issue {
	var issues []Issue
	for _, typ := range []string{"google_kms_key_ring", "google_kms_crypto_key"} {
		bs := c.Resources(typ)
		issues = append(issues, requireSome(bs, typ)...)
		for _, b := range bs {
			if !preventDestroy(b.Body) {
				issues = append(issues, issuef(b, "lifecycle.prevent_destroy must be true"))
			}
		}
	}
	return issues
}

// checkKMSUsers: the KEK is usable by exactly the functions that seal or
// open data keys, each through its own member binding on the key (INFRA-3,
// CRED-3); no project-wide or authoritative KMS grants.
func checkKMSUsers(c *Config) []Issue {
	var issues []Issue
	for _, typ := range []string{"google_kms_crypto_key_iam_binding", "google_kms_crypto_key_iam_policy",
		"google_kms_key_ring_iam_member", "google_kms_key_ring_iam_binding", "google_kms_key_ring_iam_policy"} {
		for _, b := range c.Resources(typ) {
			issues = append(issues, issuef(b, "%s is not allowed; bind one function per google_kms_crypto_key_iam_member", typ))
		}
	}
	for _, b := range c.Resources("google_project_iam_member") {
		if role, _ := c.String(b, "role"); strings.HasPrefix(role, "roles/cloudkms.") {
			issues = append(issues, issuef(b, "project-wide KMS role %s", role))
		}
	}
	fns := functionAccounts(c)
	var users []string
	for _, b := range c.Resources("google_kms_crypto_key_iam_member") {
		fn, ok := memberFunction(b, fns)
		if !ok {
			issues = append(issues, issuef(b, "member must name exactly one function service account"))
			continue
		}
		users = append(users, fn)
	}
	slices.Sort(users)
	if !slices.Equal(users, kmsUsers()) {
		issues = append(issues, Issue{Where: "(configuration)", Msg: "KEK users are " + strings.Join(users, ",") +
			", want exactly " + strings.Join(kmsUsers(), ",")})
	}
	return issues
}
