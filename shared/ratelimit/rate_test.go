package ratelimit_test

import (
	"context"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/config"
	"github.com/gatehouse-dev/gatehouse/shared/ratelimit"
)

func TestParseRate(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want ratelimit.Rate // zero: an error
	}{
		{"20/15m", ratelimit.Rate{Burst: 20, Period: 15 * time.Minute}},
		{" 5/1h30m ", ratelimit.Rate{Burst: 5, Period: 90 * time.Minute}},
		{"600/m", ratelimit.Rate{Burst: 600, Period: time.Minute}},
		{"3/s", ratelimit.Rate{Burst: 3, Period: time.Second}},
		{"50/1d", ratelimit.Rate{Burst: 50, Period: 24 * time.Hour}},
		{"50/d", ratelimit.Rate{Burst: 50, Period: 24 * time.Hour}},
		{"1000000/7d", ratelimit.Rate{Burst: 1000000, Period: 7 * 24 * time.Hour}},
		{"20", ratelimit.Rate{}},
		{"0/1m", ratelimit.Rate{}},
		{"-1/1m", ratelimit.Rate{}},
		{"+5/1m", ratelimit.Rate{}},
		{"05/1m", ratelimit.Rate{}},
		{"1000001/1m", ratelimit.Rate{}},
		{"5/500ms", ratelimit.Rate{}},
		{"5/8d", ratelimit.Rate{}},
		{"5/0d", ratelimit.Rate{}},
		{"5/-1m", ratelimit.Rate{}},
		{"5/1m/2", ratelimit.Rate{}},
		{"5/fortnight", ratelimit.Rate{}},
		{"/1m", ratelimit.Rate{}},
		{"", ratelimit.Rate{}},
	} {
		got, err := ratelimit.ParseRate(tc.in)
		if tc.want == (ratelimit.Rate{}) {
			if err == nil || !errors.Is(err, ratelimit.ErrBadRate) {
				t.Errorf("ParseRate(%q) = %v, %v; want ErrBadRate", tc.in, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseRate(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	if got := (ratelimit.Rate{Burst: 20, Period: 15 * time.Minute}).String(); got != "20/15m" {
		t.Errorf("String = %q", got)
	}
	if got := (ratelimit.Rate{Burst: 20, Period: 15 * time.Minute}).Text(); got != "20 per 15 minutes" {
		t.Errorf("Text = %q", got)
	}
}

// An operator's value never panics the parser, and what it accepts it
// prints back the same.
func FuzzParseRate(f *testing.F) {
	for _, s := range []string{"20/15m", "5/1h30m", "600/m", "50/1d", "1/s", "0/1m", "5/8d", "9999999999999999999/1m",
		"5/1e3h", "5/ 1m", "1/1.5s", "", "/", "5/9223372036854775807ns"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ratelimit.ParseRate(s)
		if err != nil {
			if !errors.Is(err, ratelimit.ErrBadRate) {
				t.Fatalf("ParseRate(%q): %v does not wrap ErrBadRate", s, err)
			}
			return
		}
		if r.Burst < 1 || r.Period < time.Second || r.Period > 7*24*time.Hour {
			t.Fatalf("ParseRate(%q) = %v: out of bounds", s, r)
		}
		back, err := ratelimit.ParseRate(r.String())
		if err != nil || back != r {
			t.Fatalf("ParseRate(%q) = %v, printed %q, read back %v, %v", s, r, r.String(), back, err)
		}
	})
}

func loader(env map[string]string) *config.Loader {
	return config.NewLoader(context.Background(), func(name string) (string, bool) {
		v, ok := env[name]
		return v, ok
	}, nil)
}

// Each limit has one variable; development is generous, staging and prod
// keep the defaults and refuse a value looser than the minimum protection.
//
// Controls: AUTH-3
func TestLoad(t *testing.T) {
	magic := ratelimit.MagicLinkAccount.Name
	dev := ratelimit.Load(loader(nil))
	if r := dev[magic]; r.Burst < 100 {
		t.Errorf("dev %s = %v: a person testing would hit 429 early", magic, r)
	}
	prod := loader(map[string]string{"GATEHOUSE_ENV": "prod", "GATEHOUSE_LIMIT_LOGIN_NETWORK": "20/15m"})
	rates := ratelimit.Load(prod)
	if r := rates[ratelimit.LoginNetwork.Name]; r != (ratelimit.Rate{Burst: 20, Period: 15 * time.Minute}) {
		t.Errorf("configured login-network = %v", r)
	}
	if r := rates[magic]; r != ratelimit.MagicLinkAccount.Rate() {
		t.Errorf("prod %s = %v, want its default %v", magic, r, ratelimit.MagicLinkAccount.Rate())
	}
	for name, tc := range map[string]struct {
		env     map[string]string
		wantErr string
	}{
		"looser than the minimum in prod": {map[string]string{"GATEHOUSE_ENV": "prod", "GATEHOUSE_LIMIT_MAGIC_LINK_ACCOUNT": "31/15m"},
			"GATEHOUSE_LIMIT_MAGIC_LINK_ACCOUNT: 31 per 15 minutes is looser than the minimum protection in prod (at most 30 per 15 minutes)"},
		"faster refill than the minimum in staging": {map[string]string{"GATEHOUSE_ENV": "staging", "GATEHOUSE_LIMIT_MAGIC_LINK_ACCOUNT": "30/14m"},
			"GATEHOUSE_LIMIT_MAGIC_LINK_ACCOUNT: 30 per 14 minutes is looser"},
		"not a rate":     {map[string]string{"GATEHOUSE_LIMIT_LOGIN_ACCOUNT": "ten"}, `GATEHOUSE_LIMIT_LOGIN_ACCOUNT: not a rate (N/PERIOD, e.g. 20/15m): "ten"`},
		"misspelt limit": {map[string]string{"GATEHOUSE_ENV": "prod"}, "GATEHOUSE_LIMIT_LOGIN_NETWRK: not a Gatehouse variable; did you mean GATEHOUSE_LIMIT_LOGIN_NETWORK?"},
	} {
		l := loader(tc.env)
		ratelimit.Load(l)
		l.CheckUnknown([]string{"GATEHOUSE_LIMIT_LOGIN_NETWRK=1/m"})
		if err := l.Err(); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%s: err = %v, want %q", name, err, tc.wantErr)
		}
	}
	l := loader(map[string]string{"GATEHOUSE_ENV": "prod", "GATEHOUSE_LIMIT_MAGIC_LINK_ACCOUNT": "1/1h"})
	if ratelimit.Load(l); l.Err() != nil {
		t.Errorf("a stricter limit is refused: %v", l.Err())
	}
}

// The Limiter applies configured rates by limit name.
//
// Controls: AUTH-3
func TestLimiterUsesConfiguredRates(t *testing.T) {
	ctx := context.Background()
	c := &clock{epoch}
	l := ratelimit.New(openSQLite(t), c.now)
	l.Use(ratelimit.Rates{ratelimit.MagicLinkAccount.Name: {Burst: 5, Period: time.Hour}})
	for i := range 5 {
		if err := l.Allow(ctx, ratelimit.MagicLinkAccount, "ada@example.com"); err != nil {
			t.Fatalf("request %d of 5 with burst 5 (default 3): %v", i+1, err)
		}
	}
	var limited *ratelimit.LimitedError
	if err := l.Allow(ctx, ratelimit.MagicLinkAccount, "ada@example.com"); !errors.As(err, &limited) || limited.RetryAfter != 12*time.Minute {
		t.Fatalf("sixth: %v, want limited, retry after 12 minutes (1 hour / 5)", err)
	}
}

// Every limit is declared in the catalogue, so it has a variable and a
// line in the operations guide: no ratelimit.Limit literal elsewhere.
func TestEveryLimitIsInTheCatalogue(t *testing.T) {
	root := filepath.Join("..", "..")
	err := filepath.WalkDir(root, func(path string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
		if err != nil {
			return err
		}
		inRatelimit := f.Name.Name == "ratelimit"
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.CompositeLit)
			if !ok {
				return true
			}
			switch typ := lit.Type.(type) {
			case *ast.SelectorExpr:
				if x, ok := typ.X.(*ast.Ident); ok && x.Name == "ratelimit" && typ.Sel.Name == "Limit" {
					t.Errorf("%s: a ratelimit.Limit literal; declare the limit in shared/ratelimit/catalogue.go", path)
				}
			case *ast.Ident:
				if inRatelimit && typ.Name == "Limit" && filepath.Base(path) != "catalogue.go" {
					t.Errorf("%s: a Limit literal outside catalogue.go", path)
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, s := range ratelimit.Catalogue() {
		if seen[s.Name] || s.Doc == "" || s.Burst < 1 || s.Period < time.Second {
			t.Errorf("catalogue entry %+v: duplicate, undocumented or empty", s)
		}
		seen[s.Name] = true
	}
}
