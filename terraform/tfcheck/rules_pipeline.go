package tfcheck

import (
	"fmt"
	"slices"
	"strings"
)

// bootstrapDir is the root that creates the pipeline's identities.
const bootstrapDir = "bootstrap"

// ciRoles are the only grants of the CI identity (INFRA-9): logs, the
// image repository, write-once release objects and the CI database
// password. Nothing that deploys, nothing that reads another secret.
func ciRoles() []string {
	return []string{"roles/artifactregistry.writer", "roles/logging.logWriter", "roles/secretmanager.secretAccessor", "roles/storage.objectCreator"}
}

// checkPipelineIdentities: in terraform/bootstrap, the CI account holds
// exactly ciRoles, its secret access names only the CI database password;
// the deployer holds no project-wide actAs and no predefined Secret Manager
// role, and its custom secret role cannot read versions; the deploy
// trigger needs an approval in prod (INFRA-9).
func checkPipelineIdentities(c *Config) []Issue {
	var issues []Issue
	var ciGot []string
	grants := 0
	for _, b := range c.Blocks {
		if b.Dir != bootstrapDir || b.Type != "resource" || !strings.HasSuffix(b.label(0), "_iam_member") {
			continue
		}
		grants++
		role, _ := c.String(b, "role")
		member := c.attrSource(b.Body, "member")
		switch {
		case strings.Contains(member, "local.ci"):
			ciGot = append(ciGot, role)
			if role == secretAccessor && !slices.Equal(attrRefs(b.Body, "google_secret_manager_secret", "secret_id"), []string{"ci_postgres"}) {
				issues = append(issues, issuef(b, "the CI account may read the CI database password only"))
			}
		case strings.Contains(member, "local.deployer"):
			if role == "roles/iam.serviceAccountUser" || role == "roles/iam.serviceAccountTokenCreator" || strings.HasPrefix(role, "roles/secretmanager.") || role == "roles/owner" || role == "roles/editor" {
				issues = append(issues, issuef(b, "the deployer must not hold %s", role))
			}
		}
	}
	if grants == 0 {
		return []Issue{{Where: bootstrapDir, Msg: "no IAM grants in the bootstrap root"}}
	}
	for _, b := range c.Resources("google_project_iam_member") {
		if b.Dir != bootstrapDir {
			continue
		}
		if fe := c.attrSource(b.Body, "for_each"); strings.Contains(c.attrSource(b.Body, "member"), "local.deployer") && strings.Contains(fe, "roles/iam.serviceAccountUser") {
			issues = append(issues, issuef(b, "the deployer must not hold roles/iam.serviceAccountUser project-wide"))
		}
	}
	slices.Sort(ciGot)
	if !slices.Equal(slices.Compact(ciGot), ciRoles()) {
		issues = append(issues, Issue{Where: bootstrapDir, Msg: fmt.Sprintf("CI account roles %v, want exactly %v", ciGot, ciRoles())})
	}
	for _, b := range c.Resources("google_project_iam_custom_role") {
		if b.Dir == bootstrapDir && strings.Contains(c.attrSource(b.Body, "permissions"), "secretmanager.versions.access") {
			issues = append(issues, issuef(b, "the deployer's secret role includes secretmanager.versions.access"))
		}
	}
	deploy := false
	for _, b := range c.Resources("google_cloudbuild_trigger") {
		if b.Dir != bootstrapDir || attr(b.Body, "pubsub_config", "topic") == nil {
			continue
		}
		deploy = true
		if got := c.attrSource(b.Body, "approval_config", "approval_required"); got != `var.env == "prod"` && got != "true" {
			issues = append(issues, issuef(b, "the deploy trigger's approval_required is %q, want it on in prod", got))
		}
	}
	if !deploy {
		issues = append(issues, Issue{Where: bootstrapDir, Msg: "no deploy trigger"})
	}
	return issues
}
