package events_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/shared/events"
)

// Every event type is proven emitted by its flow: some test in the module
// drives the flow (handler, function entry point) and calls
// eventstest.Require(t, store, events.<Type>, …) on its outbox. A type
// added to the schema without such a test fails here. The flow tests run
// on SQLite and PostgreSQL (bootstraptest.Backends).
func TestEveryTypeHasAFlowTest(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root %s: %v", root, err)
	}
	names := typeConstants(t, filepath.Join(root, "shared", "events", "events.go"))
	if len(names) != len(events.Types) {
		t.Fatalf("events.go declares %d Type constants %v; events.Types lists %d", len(names), names, len(events.Types))
	}
	covered := map[string][]string{} // constant name → test files
	fset := token.NewFileSet()
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "node_modules" || d.Name() == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		for _, name := range requiredTypes(f) {
			covered[name] = append(covered[name], rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		if len(covered[name]) == 0 {
			t.Errorf("events.%s: no test drives its flow and calls eventstest.Require(t, s, events.%s, …)", name, name)
			continue
		}
		t.Logf("events.%s: %s", name, strings.Join(slices.Compact(covered[name]), ", "))
	}
}

// typeConstants returns the names of the constants of type Type declared
// in the file at path.
func typeConstants(t *testing.T, path string) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, decl := range f.Decls {
		g, ok := decl.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, spec := range g.Specs {
			v := spec.(*ast.ValueSpec)
			if id, ok := v.Type.(*ast.Ident); ok && id.Name == "Type" {
				for _, n := range v.Names {
					names = append(names, n.Name)
				}
			}
		}
	}
	return names
}

// requiredTypes returns X for every call eventstest.Require(_, _, events.X, …)
// in f.
func requiredTypes(f *ast.File) []string {
	var out []string
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok || !isSelector(call.Fun, "eventstest", "Require") || len(call.Args) < 3 {
			return true
		}
		if sel, ok := call.Args[2].(*ast.SelectorExpr); ok && isSelector(sel, "events", sel.Sel.Name) {
			out = append(out, sel.Sel.Name)
		}
		return true
	})
	return out
}

func isSelector(e ast.Expr, pkg, name string) bool {
	sel, ok := e.(*ast.SelectorExpr)
	if !ok || sel.Sel.Name != name {
		return false
	}
	id, ok := sel.X.(*ast.Ident)
	return ok && id.Name == pkg
}
