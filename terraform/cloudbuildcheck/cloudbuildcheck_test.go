package cloudbuildcheck

import (
	"os"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/shared/store/postgres/pgtest"
)

const (
	pipeline       = "../../cloudbuild.yaml"
	deployPipeline = "../../cloudbuild-deploy.yaml"
)

func load(t *testing.T) string { return loadFile(t, pipeline) }

func loadFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func checkDeploy(t *testing.T, text string) []string {
	t.Helper()
	b, err := Parse([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return CheckDeploy(b)
}

func check(t *testing.T, text string) []string {
	t.Helper()
	b, err := Parse([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return Check(b)
}

// The CI build runs every test and scanner, then builds, scans and pushes
// the image, and writes the release last; it deploys nothing.
//
// Controls: INFRA-6, INFRA-9, CRED-9
func TestRepositoryPipeline(t *testing.T) {
	for _, is := range check(t, load(t)) {
		t.Error(is)
	}
}

// The deploy build runs as the deployer on the CI build's release: the
// migration job is updated to the release's image digest and executed
// (waiting for it) before a plan is saved, and exactly that plan is
// applied, last.
//
// Controls: INFRA-9
func TestRepositoryDeployPipeline(t *testing.T) {
	for _, is := range checkDeploy(t, loadFile(t, deployPipeline)) {
		t.Error(is)
	}
}

// The pipeline's test database variable is the one the PostgreSQL test
// helper reads.
//
// Controls: INFRA-6
func TestTestDatabaseVariableMatchesPgtest(t *testing.T) {
	if TestDatabaseVar != pgtest.EnvURL {
		t.Fatalf("the pipeline sets %s, pgtest reads %s", TestDatabaseVar, pgtest.EnvURL)
	}
}

// Each check of the CI build fails on a copy broken the way it guards
// against.
//
// Controls: INFRA-6, INFRA-9, CRED-9
func TestPipelineChecksCatchBreakage(t *testing.T) {
	release := "  - id: release\n    name: gcr.io/google.com/cloudsdktool/cloud-sdk:558.0.0-slim\n"
	tests := []mutation{
		{"gitleaks over the tree only", "gitleaks git . --redact", "gitleaks dir . --redact", "missing stage: gitleaks over the history"},
		{"gitleaks on a shallow clone", "git fetch --quiet --unshallow", "true", "missing stage: gitleaks over the history"},
		{"gitleaks over recent commits", "gitleaks git . --redact", "gitleaks git . --log-opts=-1 --redact", "missing stage: gitleaks over the history"},
		{"tfsec instead of trivy", "trivy config --severity MEDIUM,HIGH,CRITICAL", "tfsec --minimum-severity", "missing stage: trivy config"},
		{"trivy config at HIGH only", "trivy config --severity MEDIUM,HIGH,CRITICAL", "trivy config --severity HIGH,CRITICAL", "missing stage: trivy config"},
		{"image scan at HIGH only", "trivy image --input /workspace/image.tar --severity MEDIUM,HIGH,CRITICAL", "trivy image --input /workspace/image.tar --severity HIGH,CRITICAL", "missing stage: image scan"},
		{"image scan that cannot fail", "--severity MEDIUM,HIGH,CRITICAL --exit-code 1\n\n  # Push", "--severity MEDIUM,HIGH,CRITICAL\n\n  # Push", "missing stage: image scan"},
		{"push before the scan", "  - id: scan-image\n", "  - id: early-push\n    name: gcr.io/cloud-builders/docker:24.0.9\n    args: [push, x]\n  - id: scan-image\n", "pushes or releases before"},
		{"scan beside the build", "  - id: scan-image\n    name: aquasec/trivy:0.74.0\n", "  - id: scan-image\n    name: aquasec/trivy:0.74.0\n    waitFor: ['-']\n", "does not wait for \"build-image\""},
		{"no digest kept", "echo \"IMAGE=$$image\" > /workspace/release/release.env", "echo done", "missing stage: image push and digest"},
		{"bootstrap not validated", "for root in bootstrap environments/dev", "for root in environments/dev", "missing stage: terraform fmt and validate"},
		{"no race detector", "go test -race -count=1 ./...", "go test ./...", "missing stage: go test -race"},
		{"old test database variable", "export GATEHOUSE_TEST_DATABASE_URL=", "export GATEHOUSE_TEST_POSTGRES_DSN=", "missing stage: go test -race"},
		{"PostgreSQL tests may skip", "        export GATEHOUSE_REQUIRE_POSTGRES=1\n", "", "missing stage: go test -race"},
		{"no govulncheck", "go run golang.org/x/vuln/cmd/govulncheck@v1.9.0 ./...", "true", "missing stage: govulncheck"},
		{"release before the tests", "  - id: gofmt-vet\n", earlyRelease + "  - id: gofmt-vet\n", "must come after"},
		{"release starts at once", release, release + "    waitFor: ['-']\n", "the last step does not wait for step"},
		{"release waits for formatting only", release, release + "    waitFor: [gofmt-vet]\n", "the last step does not wait for step \"go-test-race\""},
		{"scan beside the tests", "  - id: govulncheck\n    name: golang:1.26.8\n", "  - id: govulncheck\n    name: golang:1.26.8\n    waitFor: ['-']\n", "does not wait for \"go-test-race\""},
		{"step after the release", "", "  - id: late\n    name: golang:1.26.8\n    args: [version]\n", "last step must be the release"},
		{"CI deploys", "", "  - id: deploy\n    name: hashicorp/terraform:1.11.4\n    entrypoint: sh\n    args: [-c, \"set -eu; terraform apply -auto-approve\"]\n", "the CI build must not deploy"},
		{"CI updates the job", "", "  - id: job\n    name: gcr.io/google.com/cloudsdktool/cloud-sdk:558.0.0-slim\n    entrypoint: bash\n    args: [-c, \"set -e; gcloud run jobs execute gatehouse-migrate\"]\n", "the CI build must not deploy"},
		{"swallowed failure", "go run github.com/securego/gosec/v2/cmd/gosec@v2.30.0 -quiet ./...", "go run github.com/securego/gosec/v2/cmd/gosec@v2.30.0 -quiet ./... || true", "ignores its exit status"},
		{"allowed failure", "  - id: govulncheck\n", "  - id: govulncheck\n    allowFailure: true\n", "allows failure"},
		{"no set -e", "        set -eu\n        git config", "        git config", "must start with set -e"},
		{"latest image", "name: zricethezav/gitleaks:v8.30.1", "name: zricethezav/gitleaks:latest", "not pinned"},
		{"latest trivy", "name: aquasec/trivy:0.74.0\n    entrypoint: sh\n    args:\n      - -c\n      - |\n        set -eu\n        trivy config", "name: aquasec/trivy:latest\n    entrypoint: sh\n    args:\n      - -c\n      - |\n        set -eu\n        trivy config", "not pinned"},
		{"unpinned tool", "govulncheck@v1.9.0", "govulncheck@latest", "not pinned to a version"},
		{"unpinned postgres", "postgres:16.9", "postgres", "unpinned image"},
		{"no postgres", "docker run -d", "docker create", "no PostgreSQL service"},
		{"undeclared secret", "      env: PGPASSWORD\n", "      env: OTHER\n", "not in availableSecrets"},
		{"secret in env", "    - GOTOOLCHAIN=local\n", "    - GOTOOLCHAIN=local\n    - STRIPE_SECRET=whsec_x\n", "looks like a secret"},
		{"no private pool", "    name: projects/${PROJECT_ID}/locations/${_REGION}/workerPools/${_WORKER_POOL}", "    name: ''", "private worker pool"},
		{"default identity", "serviceAccount: projects/${PROJECT_ID}/serviceAccounts/${_CI}@${PROJECT_ID}.iam.gserviceaccount.com", "serviceAccount: projects/${PROJECT_ID}/serviceAccounts/1@cloudbuild.gserviceaccount.com", "want the gatehouse-ci account"},
		{"tests as the deployer", "  _CI: gatehouse-ci\n", "  _CI: gatehouse-deployer\n", "substitution _CI"},
	}
	runMutations(t, load(t), tests, Check)
}

// Each check of the deploy build fails on a copy broken the way it guards
// against.
//
// Controls: INFRA-9
func TestDeployChecksCatchBreakage(t *testing.T) {
	tests := []mutation{
		{"apply before the migration", "  - id: update-migrate-job\n", "  - id: early\n    name: hashicorp/terraform:1.11.4\n    entrypoint: sh\n    args: [-c, \"set -eu; terraform plan -var=\\\"image=$$IMAGE\\\" -out=/workspace/deploy.tfplan; terraform apply /workspace/deploy.tfplan\"]\n  - id: update-migrate-job\n", "must come after"},
		{"migration not awaited", "gatehouse-migrate --region=${_REGION} --project=${PROJECT_ID} --wait", "gatehouse-migrate --region=${_REGION} --project=${PROJECT_ID} --async", "missing stage: execute the migration job and wait"},
		{"migration on the old image", `--image="$$IMAGE"`, "--image=gatehouse:latest", "missing stage: update the migration job"},
		{"plan starts beside the migration", "  - id: plan\n    name: hashicorp/terraform:1.11.4\n", "  - id: plan\n    name: hashicorp/terraform:1.11.4\n    waitFor: [fetch-release]\n", "does not wait for \"migrate\""},
		{"apply re-plans", "terraform apply -input=false /workspace/deploy.tfplan", "terraform apply -input=false -auto-approve -var=\"image=$$IMAGE\"", "missing stage: apply the saved plan"},
		{"apply with a changed variable", "terraform apply -input=false /workspace/deploy.tfplan", "terraform apply -input=false -var=x=y /workspace/deploy.tfplan", "does not apply exactly a saved plan"},
		{"apply of an unsaved plan", "-out=/workspace/migrate-job.tfplan", "", "which no earlier step saved"},
		{"plan not saved", "-out=/workspace/deploy.tfplan", "", "missing stage: terraform plan -out"},
		{"plan of another image", `-var="image=$$IMAGE" -var="source_object=${_COMMIT}/${_CI_BUILD}/functions.zip" -out=/workspace/deploy.tfplan`, `-var="image=$${NEW_IMAGE}" -out=/workspace/deploy.tfplan`, "missing stage: terraform plan -out"},
		{"branch head instead of the release", "gatehouse-releases/${_COMMIT}/${_CI_BUILD}/release.env", "gatehouse-releases/latest/release.env", "missing stage: fetch the release"},
		{"no secret gate", `--filter="state:ENABLED"`, `--filter="state:DISABLED"`, "missing stage: every secret has a value"},
		{"step after the apply", "", "  - id: late\n    name: golang:1.26.8\n    args: [version]\n", "last step must be the apply"},
		{"deploy reads secrets", "timeout: 3600s\n", "timeout: 3600s\navailableSecrets:\n  secretManager:\n    - versionName: projects/p/secrets/pepper/versions/latest\n      env: PEPPER\n", "the deploy build reads secrets"},
		{"deploy as the CI account", "  _DEPLOYER: gatehouse-deployer\n", "  _DEPLOYER: gatehouse-ci\n", "substitution _DEPLOYER"},
		{"default identity", "serviceAccount: projects/${PROJECT_ID}/serviceAccounts/${_DEPLOYER}@${PROJECT_ID}.iam.gserviceaccount.com", "serviceAccount: projects/${PROJECT_ID}/serviceAccounts/1@cloudbuild.gserviceaccount.com", "want the gatehouse-deployer account"},
		{"no set -e", "        set -euo pipefail\n        gcloud run jobs execute", "        gcloud run jobs execute", "must start with set -e"},
		{"latest terraform", "  - id: apply\n    name: hashicorp/terraform:1.11.4\n", "  - id: apply\n    name: hashicorp/terraform:latest\n", "not pinned"},
	}
	runMutations(t, loadFile(t, deployPipeline), tests, CheckDeploy)
}

type mutation struct{ name, old, new, want string }

// runMutations applies each mutation to base (replacing old, which must
// occur once, or appending new when old is empty) and expects check to
// report an issue containing want.
func runMutations(t *testing.T, base string, tests []mutation, check func(*Build) []string) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			text := base + tc.new
			if tc.old != "" {
				if n := strings.Count(base, tc.old); n != 1 {
					t.Fatalf("%q occurs %d times, want once", tc.old, n)
				}
				text = strings.Replace(base, tc.old, tc.new, 1)
			}
			b, err := Parse([]byte(text))
			if err != nil {
				t.Fatal(err)
			}
			issues := check(b)
			for _, is := range issues {
				if strings.Contains(is, tc.want) {
					return
				}
			}
			t.Fatalf("want an issue containing %q, got %q", tc.want, issues)
		})
	}
}

// earlyRelease is a release placed first, for the ordering check.
const earlyRelease = `  - id: early-release
    name: gcr.io/google.com/cloudsdktool/cloud-sdk:558.0.0-slim
    entrypoint: bash
    args: [-c, "set -e; gcloud storage cp functions.zip release.env terraform.tar.gz gs://x-gatehouse-releases/${COMMIT_SHA}/${BUILD_ID}/"]
`
