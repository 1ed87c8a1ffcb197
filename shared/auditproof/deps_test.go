package auditproof_test

import (
	"os/exec"
	"strings"
	"testing"
)

// The verifier is importable alone: an auditor or a customer vendors
// shared/auditproof without pulling in the server. Its dependencies (go
// list -deps) are the standard library, the two transparency-dev modules
// and golang.org/x/mod's note package, and no other Gatehouse package.
//
// Controls: AUDIT-5
func TestVerifierImportsNoServerCode(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	allowed := []string{
		"github.com/gatehouse-dev/gatehouse/shared/auditproof",
		"github.com/transparency-dev/formats/",
		"github.com/transparency-dev/merkle",
		"golang.org/x/mod/sumdb/note",
	}
	var deps []string
	for _, p := range strings.Fields(string(out)) {
		deps = append(deps, p)
		ok := false
		for _, a := range allowed {
			if p == a || strings.HasPrefix(p, strings.TrimSuffix(a, "/")+"/") {
				ok = true
			}
		}
		if !ok {
			t.Errorf("the verifier imports %s", p)
		}
	}
	if len(deps) < 3 {
		t.Fatalf("go list -deps found only %v: the check would pass on anything", deps)
	}
	t.Logf("verifier dependencies: %v", deps)
}
