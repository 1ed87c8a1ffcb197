// Package cloudbuildcheck checks the Cloud Build pipeline (cloudbuild.yaml)
// for the shape INFRA-6 requires: the test and scan stages in order, each
// able to fail the build, deploy last, pinned images and tools, secrets only
// through availableSecrets, and a private worker pool.
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

// Stages returns the required stages, in the order they must run.
func Stages() []Stage {
	return []Stage{
		{"gofmt and go vet", runs("gofmt -l", "go vet ./...")},
		{"go test -race with PostgreSQL", runs("go test -race", "./...", TestDatabaseVar+"=", RequirePostgres)},
		{"govulncheck", runs("govulncheck")},
		{"gosec", runs("gosec")},
		{"gitleaks", runs("gitleaks")},
		{"terraform fmt and validate", runs("terraform fmt -check", "validate")},
		{"deploy", runs("terraform apply")},
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

// Check returns every problem with the config; none means it passes.
func Check(b *Build) []string {
	var issues []string
	for _, check := range []func(*Build) []string{
		checkStageOrder, checkFailFast, checkPostgresService, checkPinned, checkSecrets, checkPoolAndIdentity,
	} {
		issues = append(issues, check(b)...)
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
func checkStageOrder(b *Build) []string {
	issues := checkStageSequence(b)
	after := waitsFor(b)
	var found []int
	for _, st := range Stages() {
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
				issues = append(issues, fmt.Sprintf("the deploy does not wait for step %q (waitFor)", b.Steps[j].ID))
			}
		}
	}
	return issues
}

// checkStageSequence: every stage is present, in order, and deploy is last.
func checkStageSequence(b *Build) []string {
	var issues []string
	prev, prevName := -1, ""
	for _, st := range Stages() {
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
	if n := len(b.Steps); n > 0 && !Stages()[len(Stages())-1].Matches(b.Steps[n-1]) {
		issues = append(issues, "the last step must be the deploy")
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
