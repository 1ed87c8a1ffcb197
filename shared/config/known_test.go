package config

import (
	"context"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func TestCheckUnknown(t *testing.T) {
	environ := []string{
		"GATEHOUSE_STRIPE_WEBHOOK_SECRET=whsec_x", // singular: the documented variable is ..._SECRETS
		"GATEHOUSE_DB_URL=postgres://db/x",
		"GATEHOUSE_STANDARD_WEBHOOK_SECRET_ACME=whsec_x", // a member of a declared family
		"GATEHOUSE_LOG_LEVL=debug",
		"GATEHOUSE_TEST_DATABASE_URL=postgres://db/y",
		"PATH=/bin",
		"GATEHOUSEX=1",
	}
	tests := []struct {
		name, env string
		wantErrs  []string
		wantWarns []string
	}{
		{"prod refuses", "prod", []string{
			"GATEHOUSE_STRIPE_WEBHOOK_SECRET: not a Gatehouse variable; did you mean GATEHOUSE_STRIPE_WEBHOOK_SECRETS?",
			"GATEHOUSE_LOG_LEVL: not a Gatehouse variable; did you mean GATEHOUSE_LOG_LEVEL?",
		}, nil},
		{"staging refuses", "staging", []string{"GATEHOUSE_STRIPE_WEBHOOK_SECRET: not a Gatehouse variable"}, nil},
		{"dev warns", "dev", nil, []string{
			"GATEHOUSE_LOG_LEVL: not a Gatehouse variable; did you mean GATEHOUSE_LOG_LEVEL?",
			"GATEHOUSE_STRIPE_WEBHOOK_SECRET: not a Gatehouse variable; did you mean GATEHOUSE_STRIPE_WEBHOOK_SECRETS?",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := NewLoader(context.Background(), mapLookup(map[string]string{EnvVar: tc.env}), nil)
			warns := l.CheckUnknown(environ)
			err := l.Err()
			for _, want := range tc.wantErrs {
				if !strings.Contains(errString(err), want) {
					t.Errorf("Err() = %v, want it to contain %q", err, want)
				}
			}
			if len(tc.wantErrs) > 0 && !errors.Is(err, ErrUnknown) {
				t.Errorf("Err() = %v, want ErrUnknown", err)
			}
			if len(tc.wantErrs) == 0 && err != nil {
				t.Errorf("Err() = %v, want nil", err)
			}
			if strings.Join(warns, "\n") != strings.Join(tc.wantWarns, "\n") {
				t.Errorf("warnings = %q, want %q", warns, tc.wantWarns)
			}
			for _, ok := range []string{"GATEHOUSE_DB_URL", "GATEHOUSE_STANDARD_WEBHOOK_SECRET_ACME", "GATEHOUSE_TEST_DATABASE_URL"} {
				if strings.Contains(errString(err)+strings.Join(warns, ""), ok+":") {
					t.Errorf("%s reported unknown", ok)
				}
			}
		})
	}
}

func TestDeclareAddsNames(t *testing.T) {
	l := NewLoader(context.Background(), mapLookup(map[string]string{EnvVar: "prod", "GATEHOUSE_LIMIT_LOGIN_NETWORK": "5/1m"}), nil)
	l.Declare(Variable{Name: "GATEHOUSE_LIMIT_LOGIN_NETWORK", Doc: "x"})
	if got := l.String("GATEHOUSE_LIMIT_LOGIN_NETWORK", ""); got != "5/1m" {
		t.Fatalf("read %q", got)
	}
	l.CheckUnknown([]string{"GATEHOUSE_LIMIT_LOGIN_NETWORK=5/1m", "GATEHOUSE_LIMIT_LOGIN_NETWRK=5/1m"})
	want := "GATEHOUSE_LIMIT_LOGIN_NETWRK: not a Gatehouse variable; did you mean GATEHOUSE_LIMIT_LOGIN_NETWORK?"
	if err := l.Err(); !strings.Contains(errString(err), want) || strings.Contains(errString(err), "GATEHOUSE_LIMIT_LOGIN_NETWORK:") {
		t.Fatalf("Err() = %v, want only %q", err, want)
	}
	if NewLoader(context.Background(), mapLookup(nil), nil).Declared("GATEHOUSE_LIMIT_LOGIN_NETWORK") {
		t.Fatal("Declare leaked into another Loader")
	}
}

// Reading a name nobody declared is an error the function's tests see, so
// a variable cannot be added without being declared (and documented).
func TestUndeclaredReadIsAnError(t *testing.T) {
	l := NewLoader(context.Background(), mapLookup(map[string]string{"GATEHOUSE_NEW_THING": "1"}), nil)
	l.Int("GATEHOUSE_NEW_THING", 0)
	if err := l.Err(); !errors.Is(err, ErrUndeclared) || !strings.Contains(err.Error(), "GATEHOUSE_NEW_THING") {
		t.Fatalf("Err() = %v, want ErrUndeclared naming the variable", err)
	}
	l = NewLoader(context.Background(), mapLookup(nil), nil)
	l.Fail("GATEHOUSE_OTHER_THING", "bad")
	if !errors.Is(l.Err(), ErrUndeclared) {
		t.Fatalf("Fail on an undeclared name: %v", l.Err())
	}
}

// Every GATEHOUSE_* string constant in the module's non-test code is a
// declared variable, or a prefix of a declared family (a name built as
// prefix + platform): a variable read outside the Loader (os.Getenv) is
// caught here.
func TestEverySourceNameIsDeclared(t *testing.T) {
	root := filepath.Join("..", "..")
	d := newDeclarations(Groups())
	nameRE := regexp.MustCompile(`^GATEHOUSE_[A-Z0-9_]*$`)
	err := filepath.WalkDir(root, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() && (e.Name() == ".git" || e.Name() == "node_modules" || e.Name() == "testdata") {
			return filepath.SkipDir
		}
		if e.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, src, 0)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			s, err := strconv.Unquote(lit.Value)
			if err != nil || !nameRE.MatchString(s) || s == Prefix {
				return true
			}
			if !d.has(s) && !d.prefixOfFamily(s) && !isLimitPrefix(s) {
				t.Errorf("%s: %s is not declared in shared/config/vars.go", path, s)
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// isLimitPrefix accepts the prefix from which shared/ratelimit builds one
// variable per limit (declared through Loader.Declare).
func isLimitPrefix(s string) bool { return s == "GATEHOUSE_LIMIT_" }

func (d *declarations) prefixOfFamily(s string) bool {
	for _, name := range d.names {
		if i := strings.Index(name, "<"); i >= 0 && strings.HasPrefix(name[:i], s) {
			return true
		}
	}
	return false
}
