package cloudbuildcheck

import (
	"os"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/shared/store/postgres/pgtest"
)

const pipeline = "../../cloudbuild.yaml"

func load(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(pipeline)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func check(t *testing.T, text string) []string {
	t.Helper()
	b, err := Parse([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return Check(b)
}

// Controls: INFRA-6, CRED-9
func TestRepositoryPipeline(t *testing.T) {
	text := load(t)
	for _, is := range check(t, text) {
		t.Error(is)
	}
	b, err := Parse([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	if last := b.Steps[len(b.Steps)-1]; last.ID != "deploy" {
		t.Errorf("last step is %q, want deploy", last.ID)
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

// Controls: INFRA-6, CRED-9
func TestPipelineChecksCatchBreakage(t *testing.T) {
	deploy := "  - id: deploy\n"
	tests := []struct {
		name, old, new, want string
	}{
		{"no gitleaks", "gitleaks dir . --redact --no-banner --exit-code 1", "echo skipped", "missing stage: gitleaks"},
		{"no race detector", "go test -race -count=1 ./...", "go test ./...", "missing stage: go test -race"},
		{"old test database variable", "export GATEHOUSE_TEST_DATABASE_URL=", "export GATEHOUSE_TEST_POSTGRES_DSN=", "missing stage: go test -race"},
		{"PostgreSQL tests may skip", "        export GATEHOUSE_REQUIRE_POSTGRES=1\n", "", "missing stage: go test -race"},
		{"no govulncheck", "go run golang.org/x/vuln/cmd/govulncheck@v1.9.0 ./...", "true", "missing stage: govulncheck"},
		{"no validate", "terraform -chdir=terraform/environments/$$env validate", "true", "missing stage: terraform fmt and validate"},
		{"deploy before scans", "  - id: gofmt-vet\n", deployStep + "  - id: gofmt-vet\n", "must come after"},
		{"deploy starts at once", "  - id: deploy\n    name: hashicorp/terraform:1.11.4\n", "  - id: deploy\n    name: hashicorp/terraform:1.11.4\n    waitFor: ['-']\n", "the deploy does not wait for step"},
		{"deploy waits for formatting only", "  - id: deploy\n    name: hashicorp/terraform:1.11.4\n", "  - id: deploy\n    name: hashicorp/terraform:1.11.4\n    waitFor: [gofmt-vet]\n", "the deploy does not wait for step \"go-test-race\""},
		{"scan beside the tests", "  - id: govulncheck\n    name: golang:1.26.8\n", "  - id: govulncheck\n    name: golang:1.26.8\n    waitFor: ['-']\n", "does not wait for \"go-test-race\""},
		{"step after deploy", "", "  - id: late\n    name: golang:1.26.8\n    args: [version]\n", "last step must be the deploy"},
		{"swallowed failure", "go run github.com/securego/gosec/v2/cmd/gosec@v2.30.0 -quiet ./...", "go run github.com/securego/gosec/v2/cmd/gosec@v2.30.0 -quiet ./... || true", "ignores its exit status"},
		{"allowed failure", "  - id: govulncheck\n", "  - id: govulncheck\n    allowFailure: true\n", "allows failure"},
		{"no set -e", "        set -eu\n        gitleaks", "        gitleaks", "must start with set -e"},
		{"latest image", "name: zricethezav/gitleaks:v8.30.1", "name: zricethezav/gitleaks:latest", "not pinned"},
		{"unpinned tool", "govulncheck@v1.9.0", "govulncheck@latest", "not pinned to a version"},
		{"unpinned postgres", "postgres:16.9", "postgres", "unpinned image"},
		{"no postgres", "docker run -d", "docker create", "no PostgreSQL service"},
		{"undeclared secret", "      env: PGPASSWORD\n", "      env: OTHER\n", "not in availableSecrets"},
		{"secret in env", "    - GOTOOLCHAIN=local\n", "    - GOTOOLCHAIN=local\n    - STRIPE_SECRET=whsec_x\n", "looks like a secret"},
		{"no private pool", "    name: projects/${PROJECT_ID}/locations/${_REGION}/workerPools/${_WORKER_POOL}", "    name: ''", "private worker pool"},
		{"default identity", "serviceAccount: projects/${PROJECT_ID}/serviceAccounts/${_DEPLOYER}@${PROJECT_ID}.iam.gserviceaccount.com", "serviceAccount: projects/${PROJECT_ID}/serviceAccounts/1@cloudbuild.gserviceaccount.com", "deployer account"},
	}
	base := load(t)
	if !strings.Contains(base, deploy) {
		t.Fatal("pipeline has no deploy step")
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			text := base + tc.new
			if tc.old != "" {
				if n := strings.Count(base, tc.old); n != 1 {
					t.Fatalf("%q occurs %d times, want once", tc.old, n)
				}
				text = strings.Replace(base, tc.old, tc.new, 1)
			}
			issues := check(t, text)
			for _, is := range issues {
				if strings.Contains(is, tc.want) {
					return
				}
			}
			t.Fatalf("want an issue containing %q, got %q", tc.want, issues)
		})
	}
}

// deployStep is a deploy placed first, for the ordering check.
const deployStep = `  - id: early-deploy
    name: hashicorp/terraform:1.11.4
    entrypoint: sh
    args: [-c, "set -eu; terraform apply -auto-approve"]
`
