package sqlstore_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/shared/store/storetest"
)

// sessionWrite matches SQL that revokes, ends or changes the checked state
// of sessions, or disables or deletes users.
var sessionWrite = regexp.MustCompile(`(?is)\bUPDATE\s+sessions\b|\bDELETE\s+FROM\s+sessions\b|` +
	`\bDELETE\s+FROM\s+users\b|\bUPDATE\s+users\s+SET\b[^;]*\b(disabled|suspended|deleted|deactivated|blocked)`)

// quietSessionWrites are the methods that write sessions without
// announcing, and why a session cache cannot be wrong about them.
var quietSessionWrites = map[string]string{
	"PurgeSessions":      "deletes only sessions already expired or revoked (announced when revoked)",
	"RotateRefreshToken": "only moves idle expiry forward: a cached older expiry makes the check re-read",
}

// Controls: AUTH-6
//
// Every method of the store whose SQL revokes, ends or re-authenticates
// sessions, or disables or deletes users, writes it through changeSessions
// (which announces the change in the write's transaction) and is one of
// storetest.SessionChangers, whose announcements the conformance suite
// checks on both stores; or it is listed, with its reason, as quiet. A new
// method that ends sessions without announcing fails here.
func TestSessionWritesAnnounce(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var checked []string
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Body == nil || !writesSessions(fn.Body) {
				continue
			}
			checked = append(checked, fn.Name.Name)
			if _, quiet := quietSessionWrites[fn.Name.Name]; quiet {
				continue
			}
			if !callsChangeSessions(fn.Body) {
				t.Errorf("%s: %s writes sessions or users without db.changeSessions", name, fn.Name.Name)
			}
			if !slices.ContainsFunc(storetest.SessionChangers, func(c storetest.SessionChanger) bool { return c.Name == fn.Name.Name }) {
				t.Errorf("%s: %s announces session changes but is not in storetest.SessionChangers", name, fn.Name.Name)
			}
		}
	}
	for _, want := range []string{"RevokeSession", "RevokeUserSessions", "SetSessionAuth", "DeleteUser", "RevokeSessionsBefore", "PurgeSessions"} {
		if !slices.Contains(checked, want) {
			t.Errorf("the scan missed %s: the pattern no longer finds its SQL", want)
		}
	}
}

func writesSessions(body *ast.BlockStmt) bool {
	found := false
	ast.Inspect(body, func(n ast.Node) bool {
		if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING && sessionWrite.MatchString(lit.Value) {
			found = true
		}
		return !found
	})
	return found
}

func callsChangeSessions(body *ast.BlockStmt) bool {
	found := false
	ast.Inspect(body, func(n ast.Node) bool {
		if sel, ok := n.(*ast.SelectorExpr); ok && sel.Sel.Name == "changeSessions" {
			found = true
		}
		return !found
	})
	return found
}
