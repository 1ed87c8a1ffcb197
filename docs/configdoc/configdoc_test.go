package configdoc

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/gatehouse-dev/gatehouse/shared/config"
	"github.com/gatehouse-dev/gatehouse/shared/ratelimit"
)

var update = flag.Bool("update", false, "rewrite the configuration tables of README.md and the guides")

// groups is every table: the declared variables and the rate limits'.
func groups() []config.Group {
	return append(config.Groups(), config.Group{Name: "limits", Guide: "docs/operations.md", Vars: ratelimit.Variables()})
}

// The configuration tables in README.md and the guides are exactly what
// the declarations say.
func TestConfigTablesUpToDate(t *testing.T) {
	root := filepath.Join("..", "..")
	for _, g := range groups() {
		path := filepath.Join(root, g.Guide)
		doc, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := Replace(string(doc), g.Name, Table(g.Vars))
		if !ok {
			start, end := Markers(g.Name)
			t.Errorf("%s has no %s ... %s markers for the %s variables", g.Guide, start, end, g.Name)
			continue
		}
		if got == string(doc) {
			continue
		}
		if *update {
			if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		t.Errorf("%s: the %s configuration table is stale; regenerate: go test ./docs/configdoc -update", g.Guide, g.Name)
	}
}
