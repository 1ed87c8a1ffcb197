package apicheck

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// errorConstructors are the shared/web functions whose first argument is
// an error code.
var errorConstructors = []string{"BadRequest", "Unauthorized", "Conflict", "forbidden"}

// sourceErrorCodes returns the error codes the code can write: first
// arguments of the web error constructors, Code fields of web.Error
// literals and shared/web's Code constants, as string literals.
func sourceErrorCodes(t *testing.T) map[string]string {
	t.Helper()
	codes := map[string]string{}
	fset := token.NewFileSet()
	for _, dir := range []string{"functions", "shared"} {
		err := filepath.WalkDir(filepath.Join(repoRoot, dir), func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !isSource(d.Name()) {
				return err
			}
			f, err := parser.ParseFile(fset, p, nil, parser.SkipObjectResolution)
			if err != nil {
				return err
			}
			ast.Inspect(f, func(n ast.Node) bool {
				var lit ast.Expr
				switch n := n.(type) {
				case *ast.CallExpr:
					if name := calleeName(n.Fun); slices.Contains(errorConstructors, name) && len(n.Args) == 2 {
						lit = n.Args[0]
					}
				case *ast.KeyValueExpr:
					if k, ok := n.Key.(*ast.Ident); ok && k.Name == "Code" {
						lit = n.Value
					}
				case *ast.ValueSpec:
					if strings.Contains(p, filepath.Join("shared", "web")+string(filepath.Separator)) && len(n.Values) == 1 &&
						strings.HasPrefix(n.Names[0].Name, "Code") {
						lit = n.Values[0]
					}
				}
				if b, ok := lit.(*ast.BasicLit); ok && b.Kind == token.STRING {
					if s, err := strconv.Unquote(b.Value); err == nil {
						codes[s] = fset.Position(b.Pos()).String()
					}
				}
				return true
			})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return codes
}

func calleeName(e ast.Expr) string {
	switch f := e.(type) {
	case *ast.Ident:
		return f.Name
	case *ast.SelectorExpr:
		return f.Sel.Name
	}
	return ""
}

// The error codes are an enum in the document, and every code the code
// writes is in it (and nothing else is).
func TestErrorCodesEnumerated(t *testing.T) {
	doc := loadSpec(t)
	code := mapGet(mapGet(mapGet(mapGet(mapGet(mapGet(mapGet(doc, "components"), "schemas"), "Error"), "properties"), "error"), "properties"), "code")
	enum := mapGet(code, "enum")
	if enum == nil {
		t.Fatal("components.schemas.Error: error.code has no enum")
	}
	documented := map[string]bool{}
	for _, n := range enum.Content {
		documented[n.Value] = true
	}
	src := sourceErrorCodes(t)
	if len(src) < 20 {
		t.Fatalf("found only %d error codes in the source", len(src))
	}
	for c, pos := range src {
		if !documented[c] {
			t.Errorf("error code %q (%s) is missing from the Error schema's enum", c, pos)
		}
	}
	for c := range documented {
		if _, ok := src[c]; !ok {
			t.Errorf("error code %q is in the enum but no code writes it", c)
		}
	}
}
