package evidence

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
)

// TaggedTest is a test function whose doc comment names controls.
type TaggedTest struct {
	Test     *Test
	Controls []string
	// Case is set for a function of a shared suite in a non-test file
	// (shared/store/storetest's testAuditLog runs as the subtest
	// "AuditLog" of each store's TestConformance): the subtest path under
	// the test that runs the suite, from the suite's tables of
	// {"Name", testFunc} (nested tables give "Webhooks/ClaimRace").
	Case string
}

var (
	controlsLine = regexp.MustCompile(`^Controls:\s*(.+)$`)
	controlID    = regexp.MustCompile(`^[A-Z]+-\d+$`)
)

// Scan finds, under root (a module whose path is modulePath), every test,
// fuzz test and benchmark function whose doc comment has a "Controls: ID,
// ID" line, and every such function of a shared suite ("testName" in a
// non-test file, run as subtest "Name"); other functions (helpers) are
// not evidence by themselves. A malformed ID is an error, so a typo cannot
// quietly drop a test from the report.
func Scan(root, modulePath string) ([]TaggedTest, error) {
	var out []TaggedTest
	cases := map[string]map[string]caseEntry{} // package => suite function => its table entry
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if p != root && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata" ||
				name == "node_modules" || name == "vendor") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") {
			return nil
		}
		src, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		// Suite tables may sit in files that name no control.
		if !strings.Contains(string(src), "Controls:") && (strings.HasSuffix(name, "_test.go") || !strings.Contains(string(src), "testing")) {
			return nil
		}
		f, err := parser.ParseFile(fset, p, src, parser.ParseComments|parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, filepath.Dir(p))
		if err != nil {
			return err
		}
		pkg := modulePath
		if rel != "." {
			pkg = path.Join(modulePath, filepath.ToSlash(rel))
		}
		file, _ := filepath.Rel(root, p)
		isTest := strings.HasSuffix(name, "_test.go")
		if !isTest {
			if cases[pkg] == nil {
				cases[pkg] = map[string]caseEntry{}
			}
			suiteTables(f, cases[pkg])
		}
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Recv != nil || fn.Doc == nil {
				continue
			}
			ids, err := controlsOf(fn.Doc)
			if err != nil {
				return fmt.Errorf("%s: %s: %w", fset.Position(fn.Pos()), fn.Name.Name, err)
			}
			if len(ids) == 0 {
				continue
			}
			t := TaggedTest{Test: &Test{Package: pkg, Name: fn.Name.Name, File: filepath.ToSlash(file),
				Line: fset.Position(fn.Pos()).Line}, Controls: ids}
			switch fn := fn.Name.Name; {
			case isTest && (isTestName(fn, "Test") || isTestName(fn, "Fuzz") || isTestName(fn, "Benchmark")):
			case !isTest && strings.HasPrefix(fn, "test") && len(fn) > 4:
				t.Case = fn[4:]
				t.Test.Name = "*/" + t.Case
			default:
				continue // a helper: the tests calling it carry the evidence
			}
			out = append(out, t)
		}
		return nil
	})
	for i, t := range out {
		if t.Case != "" {
			out[i].Case = casePath(cases[t.Test.Package], strings.TrimPrefix(t.Test.Name, "*/"), 0)
			out[i].Test.Name = "*/" + out[i].Case
		}
	}
	return out, err
}

// caseEntry is a suite function's row in a table of subtests: its name
// and the function whose table it is in.
type caseEntry struct{ name, in string }

// suiteTables records the {"Name", testFunc} rows of f's composite
// literals, with the function they appear in.
func suiteTables(f *ast.File, into map[string]caseEntry) {
	for _, decl := range f.Decls {
		fn, ok := decl.(*ast.FuncDecl)
		if !ok || fn.Body == nil {
			continue
		}
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			lit, ok := n.(*ast.CompositeLit)
			if !ok || len(lit.Elts) != 2 {
				return true
			}
			name, ok1 := lit.Elts[0].(*ast.BasicLit)
			run, ok2 := lit.Elts[1].(*ast.Ident)
			if ok1 && ok2 && name.Kind == token.STRING && strings.HasPrefix(run.Name, "test") {
				into[run.Name] = caseEntry{name: strings.Trim(name.Value, "`\""), in: fn.Name.Name}
			}
			return true
		})
	}
}

// casePath is the subtest path of suite case base ("AuditLog" for
// testAuditLog): its table name, under the case whose table holds it.
func casePath(cases map[string]caseEntry, base string, depth int) string {
	e, ok := cases["test"+base]
	if !ok || depth > 8 {
		return base
	}
	if _, nested := cases[e.in]; nested {
		return casePath(cases, strings.TrimPrefix(e.in, "test"), depth+1) + "/" + e.name
	}
	return e.name
}

// controlsOf returns the IDs of the doc comment's "Controls:" lines.
func controlsOf(doc *ast.CommentGroup) ([]string, error) {
	var ids []string
	for _, line := range strings.Split(doc.Text(), "\n") {
		m := controlsLine.FindStringSubmatch(strings.TrimSpace(line))
		if m == nil {
			continue
		}
		for _, id := range strings.Split(m[1], ",") {
			id = strings.TrimSpace(id)
			if !controlID.MatchString(id) {
				return nil, fmt.Errorf("malformed control ID %q in %q", id, line)
			}
			ids = append(ids, id)
		}
	}
	return ids, nil
}

// isTestName reports whether name is prefix followed by nothing or by a
// character that is not a lower-case letter, as go test requires.
func isTestName(name, prefix string) bool {
	rest, ok := strings.CutPrefix(name, prefix)
	return ok && (rest == "" || !(rest[0] >= 'a' && rest[0] <= 'z'))
}
