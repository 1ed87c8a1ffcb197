package tfcheck

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gatehouse-dev/gatehouse/functions/auth"
)

// The google provider cannot come from the Terraform registry here: CI and
// the helpers' machines install it from the filesystem mirror beside the
// clone (../shared/terraform/mirror, see its README), or from the mirror
// GATEHOUSE_TERRAFORM_MIRROR names. GATEHOUSE_REQUIRE_TERRAFORM=1 (CI)
// makes a missing terraform or mirror a failure instead of a skip.
const mirrorBesideClone = "../../../shared/terraform/mirror"

var (
	cliOnce   sync.Once
	cliDir    string // the CLI configuration and plugin cache, removed by TestMain
	cliConfig string
	cliErr    error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if cliDir != "" {
		_ = os.RemoveAll(cliDir)
	}
	os.Exit(code)
}

// terraformCLI returns the terraform binary and the environment that
// installs the google provider from the offline mirror, with one plugin
// cache for the whole test binary.
func terraformCLI(t *testing.T) (string, []string) {
	t.Helper()
	require := os.Getenv("GATEHOUSE_REQUIRE_TERRAFORM") == "1"
	skip := func(format string, args ...any) {
		t.Helper()
		if require {
			t.Fatalf(format, args...)
		}
		t.Skipf(format, args...)
	}
	bin, err := exec.LookPath("terraform")
	if err != nil {
		skip("terraform not on PATH: go install github.com/hashicorp/terraform@v1.11.4")
	}
	mirror := os.Getenv("GATEHOUSE_TERRAFORM_MIRROR")
	if mirror == "" {
		mirror = mirrorBesideClone
	}
	mirror, err = filepath.Abs(mirror)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(mirror, "registry.terraform.io", "hashicorp", "google")); err != nil {
		skip("no offline google provider at %s (../shared/terraform/README.md; or set GATEHOUSE_TERRAFORM_MIRROR)", mirror)
	}
	cliOnce.Do(func() {
		dir, err := os.MkdirTemp("", "gatehouse-terraform-")
		if err != nil {
			cliErr = err
			return
		}
		cliDir = dir
		cache := filepath.Join(dir, "plugins")
		if err := os.Mkdir(cache, 0o700); err != nil {
			cliErr = err
			return
		}
		cliConfig = filepath.Join(dir, "terraformrc")
		cliErr = os.WriteFile(cliConfig, []byte(fmt.Sprintf(`plugin_cache_dir = %q
plugin_cache_may_break_dependency_lock_file = true
provider_installation {
  filesystem_mirror {
    path    = %q
    include = ["registry.terraform.io/hashicorp/google"]
  }
  direct {
    exclude = ["registry.terraform.io/hashicorp/google"]
  }
}
`, cache, mirror)), 0o600)
	})
	if cliErr != nil {
		t.Fatal(cliErr)
	}
	env := append(os.Environ(), "TF_CLI_CONFIG_FILE="+cliConfig, "TF_IN_AUTOMATION=1", "CHECKPOINT_DISABLE=1")
	return bin, env
}

// terraform runs one terraform command in dir and fails the test with its
// output if it fails.
func terraform(t *testing.T, bin string, env []string, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"-chdir=" + dir}, args...)...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("terraform %s in %s: %v\n%s", strings.Join(args, " "), dir, err, out)
	}
	return string(out)
}

var runBlock = regexp.MustCompile(`(?m)^run "[^"]+"`)

// terraformTest runs `terraform test` on one test file of module and
// requires every run block in it to pass: a run that is skipped, or a
// file terraform does not pick up, fails too.
func terraformTest(t *testing.T, module, file string) {
	t.Helper()
	bin, env := terraformCLI(t)
	tree := copyTree(t, root)
	dir := filepath.Join(tree, module)
	src, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		t.Fatal(err)
	}
	runs := len(runBlock.FindAll(src, -1))
	if runs == 0 {
		t.Fatalf("%s/%s has no run blocks", module, file)
	}
	terraform(t, bin, env, dir, "init", "-backend=false", "-input=false", "-no-color")
	out := terraform(t, bin, env, dir, "test", "-no-color", "-filter="+file)
	if want := fmt.Sprintf("Success! %d passed, 0 failed.", runs); !strings.Contains(out, want) {
		t.Fatalf("terraform test %s/%s: want %q\n%s", module, file, want, out)
	}
	t.Logf("%s/%s: %d runs passed", module, file, runs)
}

// The one public origin, applied and planned against a mocked provider:
// the load balancer routes /auth/, /oauth/ and /webhooks/ (and the root
// /.well-known/ metadata) to the three public functions and nothing to
// rotate, serves HTTPS on a managed certificate and answers HTTP with a
// redirect, and puts Cloud Armor (WAF rule sets in preview or enforce,
// per-client-IP rate bans, webhooks let past the WAF, unknown paths
// refused) in front of every backend (modules/loadbalancer/tests); the
// public functions' ingress admits only the load balancer and internal
// traffic, rotate is internal only, and trusted_proxy_hops cannot
// disagree with the load balancer's presence (modules/gatehouse/tests/edge).
//
// Controls: INFRA-8, AUTH-3
func TestLoadBalancerIsTheOnlyOrigin(t *testing.T) {
	t.Run("loadbalancer", func(t *testing.T) {
		terraformTest(t, "modules/loadbalancer", "tests/edge.tftest.hcl")
	})
	t.Run("gatehouse", func(t *testing.T) {
		terraformTest(t, "modules/gatehouse", "tests/edge.tftest.hcl")
	})
}

// How other values flow through modules/gatehouse: the connection budget,
// the auth memory bound, alert channels in prod, the image by digest, and
// the migration job: the release's image, inside the VPC on the functions'
// subnet and tag, no retries, gatehouse migrate --app-role with the four
// functions' users.
//
// Controls: INFRA-1, INFRA-2, INFRA-7, INFRA-9, AUTH-1
func TestTerraformModuleTests(t *testing.T) {
	terraformTest(t, "modules/gatehouse", "tests/values.tftest.hcl")
}

// terraform validate of every root the pipeline applies: the three
// environments and the bootstrap, with the real google provider's schema.
//
// Controls: INFRA-5, INFRA-6, INFRA-9
func TestTerraformValidateEveryRoot(t *testing.T) {
	bin, env := terraformCLI(t)
	tree := copyTree(t, root)
	for _, r := range []string{"bootstrap", "environments/dev", "environments/staging", "environments/prod"} {
		t.Run(r, func(t *testing.T) {
			dir := filepath.Join(tree, r)
			terraform(t, bin, env, dir, "init", "-backend=false", "-input=false", "-no-color")
			out := terraform(t, bin, env, dir, "validate", "-no-color")
			if !strings.Contains(out, "The configuration is valid") {
				t.Fatalf("terraform validate %s:\n%s", r, out)
			}
		})
	}
}

// The edge's rate bans name routes that exist: every path of the default
// edge_rate_limits is an operation of docs/openapi.yaml, and the load
// balancer's route prefixes are exactly the first path segments the API
// uses. A renamed route cannot silently fall out of the edge's limits.
//
// Controls: INFRA-8, AUTH-3
func TestEdgeRoutesAndRateBansMatchTheAPI(t *testing.T) {
	c, err := Load(root)
	if err != nil {
		t.Fatal(err)
	}
	spec, err := os.ReadFile("../../docs/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	paths := map[string]bool{}
	segments := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^  (/[^:\s]*):\s*$`).FindAllStringSubmatch(string(spec), -1) {
		paths[m[1]] = true
		segments[strings.SplitN(strings.TrimPrefix(m[1], "/"), "/", 2)[0]] = true
	}
	if len(paths) < 20 {
		t.Fatalf("found only %d paths in docs/openapi.yaml", len(paths))
	}
	limits, ok := c.VariableDefault("modules/gatehouse", "edge_rate_limits")
	if !ok || !limits.CanIterateElements() || limits.LengthInt() == 0 {
		t.Fatal("modules/gatehouse edge_rate_limits has no default")
	}
	for name, entry := range limits.AsValueMap() {
		for _, p := range entry.GetAttr("paths").AsValueSlice() {
			if !paths[p.AsString()] {
				t.Errorf("edge_rate_limits[%s]: %s is not a route of docs/openapi.yaml", name, p.AsString())
			}
		}
	}
	calls := c.ModuleCalls("loadbalancer")
	if len(calls) != 1 {
		t.Fatalf("want one loadbalancer module call, got %d", len(calls))
	}
	routes := attr(calls[0].Body, "routes")
	if routes == nil {
		t.Fatal("the loadbalancer call has no routes")
	}
	var prefixes []string
	for _, m := range regexp.MustCompile(`(?m)^\s*(\w+)\s*=\s*module\.`).FindAllStringSubmatch(c.Source(routes.Range()), -1) {
		prefixes = append(prefixes, m[1])
	}
	slices.Sort(prefixes)
	// rotate is the private function: in the API document, never behind
	// the load balancer.
	var api []string
	for s := range segments {
		if s != "rotate" {
			api = append(api, s)
		}
	}
	slices.Sort(api)
	if !slices.Equal(prefixes, api) {
		t.Errorf("load balancer prefixes %v, public API path segments %v", prefixes, api)
	}
	if slices.Contains(prefixes, "rotate") {
		t.Error("the load balancer routes to rotate")
	}
	// The root /.well-known/ route (modules/loadbalancer) reaches the auth
	// function unrewritten: it serves every metadata path there.
	for _, p := range auth.WellKnownPaths {
		if !strings.HasPrefix(p, "/.well-known/") || !paths["/auth"+p] {
			t.Errorf("metadata path %s is not under /.well-known/ or not in docs/openapi.yaml under /auth", p)
		}
	}
}

// Every bucket this tree creates is versioned (the exception in
// terraform/.trivyignore.yaml relies on it).
//
// Controls: INFRA-6
func TestEveryBucketIsVersioned(t *testing.T) {
	c, err := Load(root)
	if err != nil {
		t.Fatal(err)
	}
	buckets := c.Resources("google_storage_bucket")
	if len(buckets) == 0 {
		t.Fatal("no google_storage_bucket in the tree")
	}
	for _, b := range buckets {
		if !literalBool(b.Body, true, "versioning", "enabled") {
			t.Errorf("%s: versioning is not enabled", b.Where())
		}
	}
}

// The alerts page on what an operator must act on: 5xx as a share of each
// function's responses (not a count), every dead-letter hold, rotation
// failures, Cloud SQL connections against max_connections, CPU and disk,
// each to the notification channels; the dashboard charts the four
// functions (modules/observability/tests/alerts.tftest.hcl).
//
// Controls: INFRA-7
func TestAlertsAndDashboard(t *testing.T) {
	terraformTest(t, "modules/observability", "tests/alerts.tftest.hcl")
}

// The migration job's IAM database user holds cloudsqlsuperuser through
// database_roles (so no postgres password or VM exists), the functions'
// users nothing beyond login, pgaudit logs DDL and role changes, and PITR
// and the final backup are on (modules/database/tests/database.tftest.hcl).
//
// Controls: INFRA-2, INFRA-9
func TestDatabaseForTheMigrationJob(t *testing.T) {
	terraformTest(t, "modules/database", "tests/database.tftest.hcl")
}
