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

// Every event type is proven emitted by its flow on SQLite and PostgreSQL:
// some test in the module runs on both stores (backends, eachBackend or
// bootstraptest.Backends), drives the flow (handler, function entry point)
// and calls eventstest.Require(t, store, events.<Type>, …) on its outbox.
// A type added to the schema without such a test fails here.
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
	covered := map[string][]string{} // constant name → "file TestName"
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
		for _, r := range requiredTypes(f) {
			covered[r.typ] = append(covered[r.typ], rel+" "+r.test)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		if len(covered[name]) == 0 {
			t.Errorf("events.%s: no test on both stores drives its flow and calls eventstest.Require(t, s, events.%s, …)", name, name)
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

// required is one eventstest.Require(_, _, events.<typ>, …) in test.
type required struct{ typ, test string }

// requiredTypes returns every call eventstest.Require(_, _, events.X, …)
// in a test function of f that runs on both stores: one that names the
// store list (backends, eachBackend or bootstraptest.Backends). A Require
// elsewhere proves a flow on one store only and does not count.
func requiredTypes(f *ast.File) []required {
	var out []required
	for _, decl := range f.Decls {
		fn, ok := decl.(*ast.FuncDecl)
		if !ok || fn.Body == nil || !strings.HasPrefix(fn.Name.Name, "Test") || !onBothStores(fn.Body) {
			continue
		}
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || !isSelector(call.Fun, "eventstest", "Require") || len(call.Args) < 3 {
				return true
			}
			if sel, ok := call.Args[2].(*ast.SelectorExpr); ok && isSelector(sel, "events", sel.Sel.Name) {
				out = append(out, required{sel.Sel.Name, fn.Name.Name})
			}
			return true
		})
	}
	return out
}

// onBothStores reports whether body names a list of store backends.
func onBothStores(body *ast.BlockStmt) bool {
	found := false
	ast.Inspect(body, func(n ast.Node) bool {
		switch x := n.(type) {
		case *ast.Ident:
			found = found || x.Name == "backends" || x.Name == "eachBackend"
		case *ast.SelectorExpr:
			found = found || isSelector(x, "bootstraptest", "Backends")
		}
		return !found
	})
	return found
}

func isSelector(e ast.Expr, pkg, name string) bool {
	sel, ok := e.(*ast.SelectorExpr)
	if !ok || sel.Sel.Name != name {
		return false
	}
	id, ok := sel.X.(*ast.Ident)
	return ok && id.Name == pkg
}
