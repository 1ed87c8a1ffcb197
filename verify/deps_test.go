package verify_test

import (
	"os/exec"
	"strings"
	"testing"
)

// The package imports nothing of Gatehouse's server and no database or
// Google Cloud library: a service that imports it gets only HTTP, JOSE
// and the standard library.
func TestImportsNoServerDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 10 {
		t.Fatalf("go list -deps printed %d packages", len(deps))
	}
	for _, d := range deps {
		for _, banned := range []string{"github.com/gatehouse-dev/gatehouse/shared", "github.com/gatehouse-dev/gatehouse/functions",
			"github.com/jackc/", "modernc.org/", "cloud.google.com/", "google.golang.org/", "github.com/golang-jwt/"} {
			if strings.HasPrefix(d, banned) {
				t.Errorf("verify depends on %s", d)
			}
		}
		if !strings.Contains(strings.SplitN(d, "/", 2)[0], ".") || strings.HasPrefix(d, "github.com/gatehouse-dev/gatehouse/verify") ||
			strings.HasPrefix(d, "github.com/go-jose/go-jose/v4") || strings.HasPrefix(d, "golang.org/x/") {
			continue
		}
		t.Errorf("unexpected dependency %s", d)
	}
}
