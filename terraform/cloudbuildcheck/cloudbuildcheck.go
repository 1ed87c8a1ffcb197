// Package cloudbuildcheck checks the Cloud Build pipeline for the shape
// INFRA-6 and INFRA-9 require. The CI build (cloudbuild.yaml, as the CI
// account) runs the test and scan stages in order, each able to fail the
// build, then builds, scans and pushes the image and writes the release
// last, and deploys nothing. The deploy build (cloudbuild-deploy.yaml, as
// the deployer) takes that release, updates the migration job to its image
// digest, executes it and waits, saves a plan and applies exactly that
// plan, last. Both pin images and tools, take secrets only through
// availableSecrets and run on the private worker pool.
package cloudbuildcheck

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// Build is the part of a Cloud Build config the checks read.
type Build struct {
	Steps            []Step            `yaml:"steps"`
	ServiceAccount   string            `yaml:"serviceAccount"`
	Substitutions    map[string]string `yaml:"substitutions"`
	Secrets          []any             `yaml:"secrets"` // legacy KMS-encrypted values in the file: never allowed
	AvailableSecrets struct {
		SecretManager []struct {
			VersionName string `yaml:"versionName"`
			Env         string `yaml:"env"`
		} `yaml:"secretManager"`
	} `yaml:"availableSecrets"`
	Options struct {
		Pool struct {
			Name string `yaml:"name"`
		} `yaml:"pool"`
		Env []string `yaml:"env"`
	} `yaml:"options"`
}

// Step is one build step.
type Step struct {
	ID             string   `yaml:"id"`
	Name           string   `yaml:"name"`
	Entrypoint     string   `yaml:"entrypoint"`
	Args           []string `yaml:"args"`
	Script         string   `yaml:"script"`
	Env            []string `yaml:"env"`
	SecretEnv      []string `yaml:"secretEnv"`
	WaitFor        []string `yaml:"waitFor"`
	AllowFailure   bool     `yaml:"allowFailure"`
	AllowExitCodes []int    `yaml:"allowExitCodes"`
}

// Command returns the step's shell text: its script, or its args joined.
func (s Step) Command() string {
	if s.Script != "" {
		return s.Script
	}
	return strings.Join(s.Args, " ")
}

// shellScript returns the script a shell step runs: its script field or the
// argument after -c.
func (s Step) shellScript() string {
	if s.Script != "" {
		return s.Script
	}
	if i := slices.Index(s.Args, "-c"); i >= 0 && i+1 < len(s.Args) {
		return s.Args[i+1]
	}
	return ""
}

// The test step's PostgreSQL contract with shared/store/postgres/pgtest:
// the variable holding the test server's URL (pgtest.EnvURL), and the
// setting that makes a PostgreSQL test fail instead of skipping when the
// URL is missing, so the race-tested suite cannot silently run on SQLite
// alone.
const (
	TestDatabaseVar = "GATEHOUSE_TEST_DATABASE_URL"
	RequirePostgres = "GATEHOUSE_REQUIRE_POSTGRES=1"
)

// Stage is one required pipeline stage and how to recognise its step.
type Stage struct {
	Name    string
	Matches func(Step) bool
}

func runs(parts ...string) func(Step) bool {
	return func(s Step) bool {
		text := s.Command()
		for _, p := range parts {
			if !strings.Contains(text, p) {
				return false
			}
		}
		return true
	}
}

// Stages returns the CI build's required stages, in the order they must
// run; the last is the release, which must be the last step.
func Stages() []Stage {
	return []Stage{
		{"gofmt and go vet", runs("gofmt -l", "go vet ./...")},
		{"go test -race with PostgreSQL", runs("go test -race", "./...", TestDatabaseVar+"=", RequirePostgres)},
		{"govulncheck", runs("govulncheck")},
		{"gosec", runs("gosec")},
		{"gitleaks over the history", gitleaksHistory},
		{"trivy config at MEDIUM", runs("trivy config", "--severity MEDIUM,HIGH,CRITICAL", "--exit-code 1", "terraform")},
		{"terraform fmt and validate", runs("terraform fmt -check", "validate", "bootstrap", "environments/prod")},
		{"function source archive", runs("go run ./terraform/functionsource")},
		{"image build", runs("docker build", "cmd/gatehouse/Dockerfile")},
		{"image scan at MEDIUM", runs("trivy image", "--severity MEDIUM,HIGH,CRITICAL", "--exit-code 1")},
		{"image push and digest", runs("docker push", "RepoDigests", "release.env")},
		{"release", runs("gcloud storage cp", "functions.zip", "release.env", "terraform.tar.gz", "gatehouse-releases/${COMMIT_SHA}/${BUILD_ID}/")},
	}
}

// gitleaksHistory: gitleaks scans the git history (gitleaks git), with the
// whole history fetched, not only the checked-out tree (gitleaks dir) or a
// range of commits.
func gitleaksHistory(s Step) bool {
	text := s.Command()
	return strings.Contains(text, "gitleaks git") && strings.Contains(text, "--unshallow") &&
		!strings.Contains(text, "--log-opts") && !strings.Contains(text, "gitleaks dir")
}

// DeployPlan is the plan file the deploy build saves and applies.
const DeployPlan = "/workspace/deploy.tfplan"

// DeployStages returns the deploy build's required stages, in order; the
// last is the apply of the saved plan, which must be the last step.
func DeployStages() []Stage {
	return []Stage{
		{"fetch the release", runs("gatehouse-releases/${_COMMIT}/${_CI_BUILD}/release.env", "terraform.tar.gz")},
		{"every secret has a value", runs("gcloud secrets versions list", "state:ENABLED", "exit 1")},
		{"update the migration job to the image digest", runs("gcloud run jobs update gatehouse-migrate", `--image="$$IMAGE"`, "release.env")},
		{"execute the migration job and wait", runs("gcloud run jobs execute gatehouse-migrate", "--wait")},
		{"terraform plan -out", runs("terraform plan", `-var="image=$$IMAGE"`, "-out="+DeployPlan)},
		{"apply the saved plan", runs("terraform apply", DeployPlan)},
	}
}

// Parse decodes a Cloud Build config.
func Parse(data []byte) (*Build, error) {
	var b Build
	if err := yaml.Unmarshal(data, &b); err != nil {
		return nil, fmt.Errorf("parse cloud build config: %w", err)
	}
	return &b, nil
}

// Check returns every problem with the CI build config; none means it
// passes.
func Check(b *Build) []string {
	var issues []string
	for _, check := range []func(*Build) []string{
		func(b *Build) []string { return checkStageOrder(b, Stages()) },
		checkFailFast, checkPostgresService, checkPinned, checkSecrets, checkPool,
		func(b *Build) []string { return checkIdentity(b, "${_CI}", "_CI", CIAccount) },
		checkCIDeploysNothing, checkPublishesAfterChecks,
	} {
		issues = append(issues, check(b)...)
	}
	return issues
}

// CheckDeploy returns every problem with the deploy build config.
func CheckDeploy(b *Build) []string {
	var issues []string
	for _, check := range []func(*Build) []string{
		func(b *Build) []string { return checkStageOrder(b, DeployStages()) },
		checkFailFast, checkPinned, checkSecrets, checkPool,
		func(b *Build) []string { return checkIdentity(b, "${_DEPLOYER}", "_DEPLOYER", DeployerAccount) },
		checkAppliesOnlySavedPlans,
	} {
		issues = append(issues, check(b)...)
	}
	if len(b.AvailableSecrets.SecretManager) > 0 {
		issues = append(issues, "the deploy build reads secrets (availableSecrets); the deployer cannot and must not")
	}
	return issues
}

// checkPublishesAfterChecks: a step that pushes an image or writes to the
// releases bucket runs after every test and scan stage (the stages up to
// the image scan), whatever its place in the file.
func checkPublishesAfterChecks(b *Build) []string {
	var gates []int
	for _, st := range Stages() {
		if i := slices.IndexFunc(b.Steps, st.Matches); i >= 0 {
			gates = append(gates, i)
		}
		if strings.HasPrefix(st.Name, "image scan") {
			break
		}
	}
	after := waitsFor(b)
	var issues []string
	for i, s := range b.Steps {
		if !publishes(s) {
			continue
		}
		for _, g := range gates {
			if g != i && !after[i][g] {
				issues = append(issues, fmt.Sprintf("step %s pushes or releases before step %s has passed", s.ID, b.Steps[g].ID))
			}
		}
	}
	return issues
}

// publishes reports whether a step pushes an image or writes a release.
func publishes(s Step) bool {
	cmd := s.Command()
	return strings.Contains(cmd, "docker push") || strings.Contains(cmd, "gatehouse-releases") ||
		(strings.HasPrefix(s.Name, "gcr.io/cloud-builders/docker") && len(s.Args) > 0 && s.Args[0] == "push")
}

// The account ids terraform/bootstrap creates for the two builds.
const (
	CIAccount       = "gatehouse-ci"
	DeployerAccount = "gatehouse-deployer"
)

// deployCommands are what only the deploy build may run.
var deployCommands = []string{"terraform apply", "terraform plan", "terraform import", "gcloud run ", "gcloud functions ", "gcloud beta run", "gcloud secrets "}

// checkCIDeploysNothing: the CI build changes no running system.
func checkCIDeploysNothing(b *Build) []string {
	var issues []string
	for _, s := range b.Steps {
		for _, c := range deployCommands {
			if strings.Contains(s.Command(), c) {
				issues = append(issues, fmt.Sprintf("CI step %s runs %q: the CI build must not deploy", s.ID, strings.TrimSpace(c)))
			}
		}
	}
	return issues
}

var applyLine = regexp.MustCompile(`terraform apply[^\n]*`)

// checkAppliesOnlySavedPlans: every terraform apply applies a plan file
// a step before it saved (-out), with nothing that could change it
// (-var, -target, -auto-approve, -replace, -destroy): what was planned is
// what is applied.
func checkAppliesOnlySavedPlans(b *Build) []string {
	var issues []string
	saved := map[string]bool{}
	for _, s := range b.Steps {
		for _, line := range strings.Split(strings.ReplaceAll(s.Command(), "\\\n", " "), "\n") {
			if strings.Contains(line, "terraform plan") {
				for _, f := range strings.Fields(line) {
					if out, ok := strings.CutPrefix(f, "-out="); ok {
						saved[out] = true
					}
				}
			}
		}
		for _, m := range applyLine.FindAllString(s.Command(), -1) {
			f := strings.Fields(m)
			last := f[len(f)-1]
			switch {
			case strings.ContainsAny(m, "$") || strings.Contains(m, "-var") || strings.Contains(m, "-target") || strings.Contains(m, "-auto-approve") || strings.Contains(m, "-replace") || strings.Contains(m, "-destroy"):
				issues = append(issues, fmt.Sprintf("step %s: %q does not apply exactly a saved plan", s.ID, m))
			case !saved[last]:
				issues = append(issues, fmt.Sprintf("step %s: %q applies %s, which no earlier step saved with terraform plan -out", s.ID, m, last))
			}
		}
	}
	return issues
}

// waitsFor returns, for each step, the indexes of the steps it runs after,
// transitively. Cloud Build starts a step without waitFor after every step
// before it, one with waitFor ['-'] at once, and one with a list of ids
// after those steps.
func waitsFor(b *Build) []map[int]bool {
	index := map[string]int{}
	for i, s := range b.Steps {
		if s.ID != "" {
			index[s.ID] = i
		}
	}
	after := make([]map[int]bool, len(b.Steps))
	for i, s := range b.Steps {
		after[i] = map[int]bool{}
		var direct []int
		switch {
		case s.WaitFor == nil:
			for j := range i {
				direct = append(direct, j)
			}
		case slices.Contains(s.WaitFor, "-"):
		default:
			for _, id := range s.WaitFor {
				if j, ok := index[id]; ok && j < i {
					direct = append(direct, j)
				}
			}
		}
		for _, j := range direct {
			after[i][j] = true
			for k := range after[j] {
				after[i][k] = true
			}
		}
	}
	return after
}

// checkStageOrder: every stage is present, in order, and deploy is last;
// and the order is real: each stage runs after the ones before it, and the
// deploy after every other step (waitFor cannot start it early).
func checkStageOrder(b *Build, stages []Stage) []string {
	issues := checkStageSequence(b, stages)
	after := waitsFor(b)
	var found []int
	for _, st := range stages {
		if i := slices.IndexFunc(b.Steps, st.Matches); i >= 0 {
			found = append(found, i)
		}
	}
	for n := 1; n < len(found); n++ {
		if found[n] > found[n-1] && !after[found[n]][found[n-1]] {
			issues = append(issues, fmt.Sprintf("step %q does not wait for %q (waitFor)", b.Steps[found[n]].ID, b.Steps[found[n-1]].ID))
		}
	}
	if last := len(b.Steps) - 1; last >= 0 {
		for j := range last {
			if !after[last][j] {
				issues = append(issues, fmt.Sprintf("the last step does not wait for step %q (waitFor)", b.Steps[j].ID))
			}
		}
	}
	return issues
}

// checkStageSequence: every stage is present, in order, and the last stage
// is the last step.
func checkStageSequence(b *Build, stages []Stage) []string {
	var issues []string
	prev, prevName := -1, ""
	for _, st := range stages {
		i := slices.IndexFunc(b.Steps, st.Matches)
		switch {
		case i < 0:
			issues = append(issues, "missing stage: "+st.Name)
			continue
		case i <= prev:
			issues = append(issues, fmt.Sprintf("stage %q (step %d) must come after %q (step %d)", st.Name, i, prevName, prev))
		}
		prev, prevName = i, st.Name
	}
	if n := len(b.Steps); n > 0 && !stages[len(stages)-1].Matches(b.Steps[n-1]) {
		issues = append(issues, "the last step must be the "+stages[len(stages)-1].Name)
	}
	return issues
}

// checkFailFast: no step may swallow its failure.
func checkFailFast(b *Build) []string {
	var issues []string
	for _, s := range b.Steps {
		cmd := s.Command()
		switch {
		case s.AllowFailure || len(s.AllowExitCodes) > 0:
			issues = append(issues, "step "+s.ID+" allows failure")
		case strings.Contains(cmd, "|| true") || strings.Contains(cmd, "--soft-fail") || strings.Contains(cmd, "--exit-code 0"):
			issues = append(issues, "step "+s.ID+" ignores its exit status")
		case (s.Entrypoint == "bash" || s.Entrypoint == "sh") && !strings.HasPrefix(strings.TrimSpace(s.shellScript()), "set -e"):
			issues = append(issues, "step "+s.ID+" shell script must start with set -e")
		}
	}
	return issues
}

// checkPostgresService: a step before the tests starts PostgreSQL.
func checkPostgresService(b *Build) []string {
	pg := slices.IndexFunc(b.Steps, runs("docker run", "postgres:"))
	test := slices.IndexFunc(b.Steps, Stages()[1].Matches)
	if pg < 0 || test < 0 || pg > test {
		return []string{"no PostgreSQL service started before go test"}
	}
	return nil
}

var (
	pinnedImage = regexp.MustCompile(`(:[vV]?\d+(\.\d+)+[\w.-]*|@sha256:[0-9a-f]{64})$`)
	goTool      = regexp.MustCompile(`go (?:run|install) (\S+)`)
	pinnedTool  = regexp.MustCompile(`@v\d+\.\d+\.\d+$`)
)

// checkPinned: every image and every go-run tool has a fixed version.
func checkPinned(b *Build) []string {
	var issues []string
	for _, s := range b.Steps {
		if !pinnedImage.MatchString(s.Name) {
			issues = append(issues, fmt.Sprintf("step %s image %q is not pinned by version or digest", s.ID, s.Name))
		}
		for _, m := range goTool.FindAllStringSubmatch(s.Command(), -1) {
			if !strings.HasPrefix(m[1], "./") && !pinnedTool.MatchString(m[1]) { // ./ is this repository's own code
				issues = append(issues, fmt.Sprintf("step %s tool %s is not pinned to a version", s.ID, m[1]))
			}
		}
		for _, img := range dockerRunImages(s.Command()) {
			if !pinnedImage.MatchString(img) {
				issues = append(issues, fmt.Sprintf("step %s runs unpinned image %s", s.ID, img))
			}
		}
	}
	return issues
}

// dockerRunImages returns the image of every `docker run` in a script.
func dockerRunImages(script string) []string {
	withValue := map[string]bool{"--name": true, "--network": true, "-e": true, "--env": true, "-p": true, "-v": true, "--mount": true}
	var images []string
	for _, line := range strings.Split(strings.ReplaceAll(script, "\\\n", " "), "\n") {
		_, rest, ok := strings.Cut(line, "docker run")
		if !ok {
			continue
		}
		toks := strings.Fields(rest)
		for i := 0; i < len(toks); i++ {
			switch {
			case withValue[toks[i]]:
				i++
			case strings.HasPrefix(toks[i], "-"):
			default:
				images = append(images, toks[i])
				i = len(toks)
			}
		}
	}
	return images
}
