package tfcheck

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// root is the terraform/ directory of the repository.
const root = ".."

// Controls: INFRA-1, INFRA-2, INFRA-3, INFRA-4, INFRA-5, INFRA-7, INFRA-8, INFRA-9, CRED-3, CRED-9, AUDIT-3
func TestRepositoryTerraformPassesEveryRule(t *testing.T) {
	c, err := Load(root)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(c.Resources("google_cloudfunctions2_function")); n != 1 {
		t.Fatalf("want the one function resource of modules/function, got %d", n)
	}
	for _, f := range Run(c) {
		t.Errorf("%s", f)
	}
}

func TestLoadRejectsSyntaxErrors(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "bad.tf"), []byte("resource \"x\" {\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(dir); err == nil {
		t.Fatal("Load accepted a file with a syntax error")
	}
}

// Controls: INFRA-1
func TestTerraformFmt(t *testing.T) {
	bin, err := exec.LookPath("terraform")
	if err != nil {
		t.Skip("terraform not on PATH; CI runs terraform fmt -check -recursive")
	}
	out, err := exec.Command(bin, "fmt", "-check", "-recursive", "-diff", root).CombinedOutput()
	if err != nil {
		t.Fatalf("terraform fmt -check: %v\n%s", err, out)
	}
}

// TestTrivyConfig runs trivy's Terraform checks (its embedded check
// bundle, offline) at MEDIUM and above; exceptions are in
// terraform/.trivyignore.yaml, each with its reason. GATEHOUSE_REQUIRE_TRIVY=1
// (CI) makes a missing trivy a failure.
//
// Controls: INFRA-1, INFRA-2, INFRA-3, INFRA-4, INFRA-6
func TestTrivyConfig(t *testing.T) {
	bin, err := exec.LookPath("trivy")
	if err != nil {
		if os.Getenv("GATEHOUSE_REQUIRE_TRIVY") == "1" {
			t.Fatal("trivy not on PATH: GOEXPERIMENT=jsonv2 go install github.com/aquasecurity/trivy/cmd/trivy@v0.74.0")
		}
		t.Skip("trivy not on PATH")
	}
	cmd := exec.Command(bin, "config", "--skip-check-update", "--quiet",
		"--severity", "MEDIUM,HIGH,CRITICAL", "--exit-code", "1",
		"--ignorefile", filepath.Join(root, ".trivyignore.yaml"), "--cache-dir", t.TempDir(), root)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("trivy config reported MEDIUM or worse findings: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "environments/prod") || !strings.Contains(string(out), "bootstrap") {
		t.Fatalf("trivy config did not scan the roots:\n%s", out)
	}
}

// copyTree copies the configuration under src (.tf, .tfvars and
// .tftest.hcl files, not .terraform/ or lock files) into a new temporary
// directory and returns it, so runs never write into the checkout and
// never collide.
func copyTree(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == ".terraform" {
			return filepath.SkipDir
		}
		if d.IsDir() || !(strings.HasSuffix(p, ".tf") || strings.HasSuffix(p, ".tfvars") || strings.HasSuffix(p, ".tftest.hcl")) {
			return nil
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Join(dst, filepath.Dir(rel)), 0o750); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// mutate replaces old by new in file, where old must occur exactly once;
// an empty old appends new to the file.
func mutate(t *testing.T, dir, file, old, new string) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(file))
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	switch {
	case old == "":
		s += "\n" + new + "\n"
	case strings.Count(s, old) != 1:
		t.Fatalf("%s: %q occurs %d times, want once", file, old, strings.Count(s, old))
	default:
		s = strings.Replace(s, old, new, 1)
	}
	if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

// Controls: INFRA-1, INFRA-2, INFRA-3, INFRA-4, INFRA-5, INFRA-7, INFRA-8, INFRA-9, CRED-3, CRED-9, AUDIT-3
func TestEachRuleFailsOnABrokenCopy(t *testing.T) {
	covered := map[string]bool{}
	for _, tc := range mutations() {
		covered[tc.rule] = true
		t.Run(tc.name, func(t *testing.T) {
			dir := copyTree(t, root)
			mutate(t, dir, tc.file, tc.old, tc.new)
			c, err := Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range Run(c) {
				if f.Rule == tc.rule {
					return
				}
				got = append(got, f.String())
			}
			t.Fatalf("rule %s did not fire; findings: %v", tc.rule, got)
		})
	}
	for _, r := range Rules() {
		if !covered[r.ID] {
			t.Errorf("rule %s has no mutation that breaks it", r.ID)
		}
	}
}
