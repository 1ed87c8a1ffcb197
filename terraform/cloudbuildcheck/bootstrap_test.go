package cloudbuildcheck

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/gatehouse-dev/gatehouse/terraform/tfcheck"
)

// source returns the source text of the attribute at path in block b
// (nested blocks by type, the first of each), or "".
func source(c *tfcheck.Config, b *tfcheck.Block, path ...string) string {
	body := b.Body
	for _, name := range path[:len(path)-1] {
		i := slices.IndexFunc(body.Blocks, func(n *hclsyntax.Block) bool { return n.Type == name })
		if i < 0 {
			return ""
		}
		body = body.Blocks[i].Body
	}
	a, ok := body.Attributes[path[len(path)-1]]
	if !ok {
		return ""
	}
	return c.Source(a.Expr.Range())
}

func bootstrapResource(t *testing.T, c *tfcheck.Config, typ, name string) *tfcheck.Block {
	t.Helper()
	for _, b := range c.Resources(typ) {
		if b.Dir == "bootstrap" && len(b.Labels) == 2 && b.Labels[1] == name {
			return b
		}
	}
	t.Fatalf("terraform/bootstrap has no %s.%s", typ, name)
	return nil
}

// The two builds run as the two identities terraform/bootstrap creates,
// and the bootstrap wires them as the pipeline needs: cloudbuild.yaml runs
// as gatehouse-ci on every push; cloudbuild-deploy.yaml runs as the
// deployer only when that CI build succeeded, on exactly its commit and
// build (the release it wrote), with an approval in prod; the image and
// release locations the builds use are the repository and bucket the
// bootstrap creates. The CI account's and the deployer's grants are the
// tfcheck rule pipeline-identities (CI: only logs, image push, release
// objects and the CI database password; deployer: no project-wide actAs,
// a Secret Manager role without versions.access).
//
// Controls: INFRA-9
func TestBootstrapRunsEachBuildAsItsAccount(t *testing.T) {
	c, err := tfcheck.Load("..")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range tfcheck.Run(c) {
		if f.Rule == "pipeline-identities" {
			t.Error(f)
		}
	}
	unquote := func(s string) string { return strings.Trim(s, `"`) }
	if got := unquote(source(c, bootstrapResource(t, c, "google_service_account", "ci"), "account_id")); got != CIAccount {
		t.Errorf("CI account id %q, cloudbuild.yaml runs as %s", got, CIAccount)
	}
	if got := unquote(source(c, bootstrapResource(t, c, "google_service_account", "deployer"), "account_id")); got != DeployerAccount {
		t.Errorf("deployer account id %q, cloudbuild-deploy.yaml runs as %s", got, DeployerAccount)
	}

	ci := bootstrapResource(t, c, "google_cloudbuild_trigger", "ci")
	if got := unquote(source(c, ci, "filename")); got != "cloudbuild.yaml" {
		t.Errorf("the CI trigger runs %q, want cloudbuild.yaml", got)
	}
	if got := source(c, ci, "service_account"); got != "google_service_account.ci.id" {
		t.Errorf("the CI trigger runs as %s, want google_service_account.ci.id", got)
	}

	deploy := bootstrapResource(t, c, "google_cloudbuild_trigger", "deploy")
	if got := unquote(source(c, deploy, "git_file_source", "path")); got != "cloudbuild-deploy.yaml" {
		t.Errorf("the deploy trigger runs %q, want cloudbuild-deploy.yaml", got)
	}
	if got := source(c, deploy, "service_account"); got != "google_service_account.deployer.id" {
		t.Errorf("the deploy trigger runs as %s, want google_service_account.deployer.id", got)
	}
	if got := source(c, deploy, "approval_config", "approval_required"); got != `var.env == "prod"` {
		t.Errorf("the deploy trigger's approval_required is %s, want var.env == \"prod\"", got)
	}
	filter := source(c, deploy, "filter")
	for _, want := range []string{`_BUILD_STATUS == \"SUCCESS\"`, "google_cloudbuild_trigger.ci.trigger_id"} {
		if !strings.Contains(filter, want) {
			t.Errorf("the deploy trigger's filter %s does not require %s", filter, want)
		}
	}
	subs := source(c, deploy, "substitutions")
	for sub, from := range map[string]string{
		"_COMMIT":   "body.message.data.substitutions.COMMIT_SHA",
		"_CI_BUILD": "body.message.data.id",
		"_ENV":      "var.env",
	} {
		if !regexp.MustCompile(regexp.QuoteMeta(sub) + `\s*=\s*"?\$?\(?` + regexp.QuoteMeta(from)).MatchString(subs) {
			t.Errorf("the deploy trigger does not set %s from %s:\n%s", sub, from, subs)
		}
	}

	// What the builds name is what the bootstrap creates.
	if got := unquote(source(c, bootstrapResource(t, c, "google_artifact_registry_repository", "images"), "repository_id")); got != "gatehouse" {
		t.Errorf("image repository %q, the builds push to .../gatehouse/gatehouse", got)
	}
	if got := unquote(source(c, bootstrapResource(t, c, "google_storage_bucket", "releases"), "name")); got != "${var.project_id}-gatehouse-releases" {
		t.Errorf("releases bucket %q, the builds use ${PROJECT_ID}-gatehouse-releases", got)
	}
	for _, file := range []string{pipeline, deployPipeline} {
		text := loadFile(t, file)
		if !strings.Contains(text, "${PROJECT_ID}-gatehouse-releases/") {
			t.Errorf("%s does not use the bootstrap's releases bucket", file)
		}
	}
	if !strings.Contains(load(t), "${_REGION}-docker.pkg.dev/${PROJECT_ID}/gatehouse/gatehouse:") {
		t.Error("cloudbuild.yaml does not push to the bootstrap's repository")
	}
	b, err := Parse([]byte(loadFile(t, deployPipeline)))
	if err != nil {
		t.Fatal(err)
	}
	for _, sub := range []string{"_COMMIT", "_CI_BUILD", "_ENV"} {
		if _, ok := b.Substitutions[sub]; !ok {
			t.Errorf("cloudbuild-deploy.yaml does not declare %s, which the trigger sets", sub)
		}
	}
}

// Every -target of the deploy build's first-run plan names a resource of
// modules/gatehouse, as the environment roots call it (module.gatehouse):
// a renamed resource would otherwise leave the job or a secret uncreated
// and the first deploy stuck.
//
// Controls: INFRA-9
func TestFirstDeployTargetsExist(t *testing.T) {
	c, err := tfcheck.Load("..")
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, b := range c.Blocks {
		if b.Dir == "modules/gatehouse" && b.Type == "resource" {
			have["module.gatehouse."+b.Address()] = true
		}
	}
	targets := regexp.MustCompile(`-target=(\S+)`).FindAllStringSubmatch(loadFile(t, deployPipeline), -1)
	if len(targets) < 2 {
		t.Fatalf("cloudbuild-deploy.yaml has %d -target arguments, want the job and the secrets", len(targets))
	}
	for _, m := range targets {
		if !have[m[1]] {
			t.Errorf("cloudbuild-deploy.yaml targets %s, which modules/gatehouse does not declare", m[1])
		}
	}
	for _, want := range []string{"module.gatehouse.google_cloud_run_v2_job.migrate", "module.gatehouse.google_secret_manager_secret.stripe_webhook"} {
		if !slices.ContainsFunc(targets, func(m []string) bool { return m[1] == want }) {
			t.Errorf("the first-run plan does not target %s", want)
		}
	}
}
