package apicheck

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// repoRoot is the module root, seen from this package's directory.
const repoRoot = "../.."

// registration is a ServeMux pattern found in a function's code.
type registration struct {
	Pattern string // as registered, e.g. "POST /login"
	Pos     string // file:line
}

// scanResult is what scanning one package's files found: registrations
// with a constant pattern, and call sites whose pattern is not constant.
type scanResult struct {
	Routes     []registration
	Unresolved []string
}

// scanPackage parses the named Go files (one package) and returns the
// first arguments of its two-argument Handle and HandleFunc calls,
// evaluated when they are string literals, package-level string constants
// or concatenations of those.
func scanPackage(fset *token.FileSet, files map[string][]byte) (scanResult, error) {
	var parsed []*ast.File
	for _, name := range slices.Sorted(maps.Keys(files)) {
		f, err := parser.ParseFile(fset, name, files[name], parser.SkipObjectResolution)
		if err != nil {
			return scanResult{}, fmt.Errorf("parse %s: %w", name, err)
		}
		parsed = append(parsed, f)
	}
	c := constEval{exprs: packageConsts(parsed), busy: map[string]bool{}}
	var res scanResult
	for _, f := range parsed {
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) != 2 {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || (sel.Sel.Name != "Handle" && sel.Sel.Name != "HandleFunc") {
				return true
			}
			pos := fset.Position(call.Pos()).String()
			if p, ok := c.eval(call.Args[0]); ok {
				res.Routes = append(res.Routes, registration{p, pos})
			} else {
				res.Unresolved = append(res.Unresolved, pos)
			}
			return true
		})
	}
	return res, nil
}

// packageConsts returns the package-level constants' value expressions.
func packageConsts(files []*ast.File) map[string]ast.Expr {
	out := map[string]ast.Expr{}
	for _, f := range files {
		for _, d := range f.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, name := range vs.Names {
					if i < len(vs.Values) {
						out[name.Name] = vs.Values[i]
					}
				}
			}
		}
	}
	return out
}

// constEval evaluates constant string expressions.
type constEval struct {
	exprs map[string]ast.Expr
	busy  map[string]bool // guards against constant cycles
}

func (c constEval) eval(e ast.Expr) (string, bool) {
	switch e := e.(type) {
	case *ast.BasicLit:
		if e.Kind != token.STRING {
			return "", false
		}
		s, err := strconv.Unquote(e.Value)
		return s, err == nil
	case *ast.ParenExpr:
		return c.eval(e.X)
	case *ast.BinaryExpr:
		l, lok := c.eval(e.X)
		r, rok := c.eval(e.Y)
		return l + r, e.Op == token.ADD && lok && rok
	case *ast.Ident:
		x, ok := c.exprs[e.Name]
		if !ok || c.busy[e.Name] {
			return "", false
		}
		c.busy[e.Name] = true
		defer delete(c.busy, e.Name)
		return c.eval(x)
	}
	return "", false
}

// documentedPath turns a ServeMux pattern of a function mounted at mount
// into the method and path openapi.yaml documents it under. Patterns that
// cannot be documented exactly are errors: no method (matches all), a
// host, a {name...} wildcard, or a subtree ("/x/" without {$}).
func documentedPath(mount, pattern string) (method, path string, err error) {
	method, p, ok := strings.Cut(pattern, " ")
	p = strings.TrimLeft(p, " \t")
	switch {
	case !ok || method == "" || strings.ToUpper(method) != method:
		return "", "", fmt.Errorf("pattern %q has no method, so it serves every method", pattern)
	case !strings.HasPrefix(p, "/"):
		return "", "", fmt.Errorf("pattern %q has a host", pattern)
	case strings.Contains(p, "...}"):
		return "", "", fmt.Errorf("pattern %q has a {name...} wildcard, which OpenAPI cannot describe", pattern)
	case strings.HasSuffix(p, "/{$}"):
		p = strings.TrimSuffix(p, "{$}")
	case strings.HasSuffix(p, "/"):
		return "", "", fmt.Errorf("pattern %q matches a whole subtree; end it with {$}", pattern)
	}
	return method, MountPath(mount, p), nil
}

// codeRoutes scans every function package for its registered routes, keyed
// "METHOD /mount/path" with their positions.
func codeRoutes(t *testing.T) map[string]string {
	t.Helper()
	mounts := map[string]string{}
	for _, f := range Fragments() {
		mounts[f.Function] = f.Mount
	}
	routes := map[string]string{}
	dirs := functionPackages(t)
	for _, dir := range dirs {
		fn := strings.Join(strings.Split(filepath.ToSlash(dir), "/")[:2], "/")
		mount, ok := mounts[fn]
		if !ok {
			t.Errorf("%s: no fragment in Fragments() documents function %s", dir, fn)
			continue
		}
		res := scanDir(t, filepath.Join(repoRoot, dir))
		for _, pos := range res.Unresolved {
			t.Errorf("%s: Handle/HandleFunc pattern is not a constant string; use a literal or a package constant", pos)
		}
		for _, r := range res.Routes {
			method, path, err := documentedPath(mount, r.Pattern)
			if err != nil {
				t.Errorf("%s: %v", r.Pos, err)
				continue
			}
			routes[method+" "+path] = r.Pos
		}
	}
	return routes
}

// functionPackages returns the directories under functions/ (relative to
// the repository root) that hold non-test Go files. Test harnesses
// (packages named *test, like functions/auth/authtest, which mounts a
// function for tests) serve no route of their own and are skipped.
func functionPackages(t *testing.T) []string {
	t.Helper()
	set := map[string]bool{}
	root := filepath.Join(repoRoot, "functions")
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || strings.HasSuffix(d.Name(), "test")) {
			return filepath.SkipDir
		}
		if !d.IsDir() && isSource(d.Name()) {
			rel, err := filepath.Rel(repoRoot, filepath.Dir(p))
			set[rel] = true
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(set) == 0 {
		t.Fatal("no function packages found")
	}
	return slices.Sorted(maps.Keys(set))
}

func isSource(name string) bool {
	return strings.HasSuffix(name, ".go") && !strings.HasSuffix(name, "_test.go")
}

func scanDir(t *testing.T, dir string) scanResult {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, e := range entries {
		if !e.IsDir() && isSource(e.Name()) {
			p := filepath.Join(dir, e.Name())
			if files[p], err = os.ReadFile(p); err != nil {
				t.Fatal(err)
			}
		}
	}
	res, err := scanPackage(token.NewFileSet(), files)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestRoutesDocumented proves openapi.yaml documents exactly the routes
// the functions register: none missing, none that no code serves.
func TestRoutesDocumented(t *testing.T) {
	code := codeRoutes(t)
	documented := map[string]bool{}
	for _, o := range operations(loadSpec(t)) {
		documented[o.String()] = true
	}
	for _, r := range slices.Sorted(maps.Keys(code)) {
		if !documented[r] {
			t.Errorf("undocumented route %s (registered at %s)", r, code[r])
		}
	}
	for _, r := range slices.Sorted(maps.Keys(documented)) {
		if _, ok := code[r]; !ok {
			t.Errorf("documented route %s is registered by no function", r)
		}
	}
	if len(code) < 10 {
		t.Fatalf("found only %d routes in code: the scan is broken", len(code))
	}
}

// TestMountsMatchServe checks that the prefixes the merge uses are the ones
// `gatehouse serve` mounts the functions under.
func TestMountsMatchServe(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(repoRoot, "cmd/gatehouse/serve.go"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := parser.ParseFile(token.NewFileSet(), "serve.go", src, parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	served := map[string]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if id, isIdent := callName(call); ok && isIdent && id == "mount" && len(call.Args) > 0 {
			if lit, ok := call.Args[0].(*ast.BasicLit); ok && lit.Kind == token.STRING {
				s, _ := strconv.Unquote(lit.Value)
				served[s] = true
			}
		}
		return true
	})
	want := map[string]bool{}
	for _, f := range Fragments() {
		want[f.Mount] = true
	}
	if !maps.Equal(served, want) {
		t.Errorf("serve.go mounts %v, Fragments() mounts %v", slices.Sorted(maps.Keys(served)), slices.Sorted(maps.Keys(want)))
	}
}

func callName(call *ast.CallExpr) (string, bool) {
	if call == nil {
		return "", false
	}
	id, ok := call.Fun.(*ast.Ident)
	if !ok {
		return "", false
	}
	return id.Name, true
}
