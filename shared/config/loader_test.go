package config

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func mapLookup(m map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		v, ok := m[name]
		return v, ok
	}
}

// newTestLoader reads env and accepts any name, declared or not.
func newTestLoader(env map[string]string) *Loader {
	l := NewLoader(context.Background(), mapLookup(env), nil)
	l.decl = nil
	return l
}

func TestLoaderAccessors(t *testing.T) {
	env := map[string]string{
		"GATEHOUSE_S":     "hello",
		"GATEHOUSE_EMPTY": "",
		"GATEHOUSE_N":     " 42 ",
		"GATEHOUSE_D":     "15m",
		"GATEHOUSE_B":     "true",
		"GATEHOUSE_L":     " a, b ,,c ",
		"GATEHOUSE_U":     "https://example.com/x",
		"GATEHOUSE_ONE":   "warn",
	}
	l := newTestLoader(env)
	tests := []struct {
		name      string
		got, want any
	}{
		{"String set", l.String("GATEHOUSE_S", "d"), "hello"},
		{"String unset", l.String("GATEHOUSE_UNSET", "d"), "d"},
		{"String empty is unset", l.String("GATEHOUSE_EMPTY", "d"), "d"},
		{"Required set", l.Required("GATEHOUSE_S"), "hello"},
		{"Int set, trimmed", l.Int("GATEHOUSE_N", 1), 42},
		{"Int unset", l.Int("GATEHOUSE_UNSET", 7), 7},
		{"Duration set", l.Duration("GATEHOUSE_D", time.Second), 15 * time.Minute},
		{"Duration unset", l.Duration("GATEHOUSE_UNSET", time.Second), time.Second},
		{"Bool set", l.Bool("GATEHOUSE_B", false), true},
		{"Bool unset", l.Bool("GATEHOUSE_UNSET", true), true},
		{"List set", l.List("GATEHOUSE_L", nil), []string{"a", "b", "c"}},
		{"List unset", l.List("GATEHOUSE_UNSET", []string{"z"}), []string{"z"}},
		{"URL set", l.URL("GATEHOUSE_U", "").String(), "https://example.com/x"},
		{"URL default", l.URL("GATEHOUSE_UNSET", "http://localhost:1").String(), "http://localhost:1"},
		{"URL unset no default", l.URL("GATEHOUSE_UNSET", "") == nil, true},
		{"OneOf set", l.OneOf("GATEHOUSE_ONE", "info", "info", "warn"), "warn"},
		{"Secret in dev from env", l.Secret("GATEHOUSE_S").Reveal(), "hello"},
		{"OptionalSecret unset", l.OptionalSecret("GATEHOUSE_UNSET").IsZero(), true},
		{"Env default", l.Env(), EnvDev},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if !equal(tc.got, tc.want) {
				t.Fatalf("got %#v, want %#v", tc.got, tc.want)
			}
		})
	}
	if err := l.Err(); err != nil {
		t.Fatalf("Err() = %v, want nil", err)
	}
}

func equal(a, b any) bool {
	as, aok := a.([]string)
	bs, bok := b.([]string)
	if aok && bok {
		return slices.Equal(as, bs)
	}
	return a == b
}

func TestLoaderReportsEveryProblem(t *testing.T) {
	env := map[string]string{
		"GATEHOUSE_PORT":    "x",
		"GATEHOUSE_TIMEOUT": "5 minutes",
		"GATEHOUSE_DEBUG":   "maybe",
		"GATEHOUSE_URL":     "/relative",
		"GATEHOUSE_MODE":    "fast",
	}
	l := newTestLoader(env)
	l.Required("GATEHOUSE_DB_URL")
	l.Int("GATEHOUSE_PORT", 8080)
	l.Duration("GATEHOUSE_TIMEOUT", time.Minute)
	l.Bool("GATEHOUSE_DEBUG", false)
	l.URL("GATEHOUSE_URL", "")
	l.OneOf("GATEHOUSE_MODE", "slow", "slow", "safe")
	l.Secret("GATEHOUSE_PEPPER")
	l.Fail("GATEHOUSE_CUSTOM", "must be even")
	want := []string{
		`GATEHOUSE_DB_URL: required`,
		`GATEHOUSE_PORT: not an integer: "x"`,
		`GATEHOUSE_TIMEOUT: not a duration: "5 minutes"`,
		`GATEHOUSE_DEBUG: not a boolean: "maybe"`,
		`GATEHOUSE_URL: not an absolute URL: "/relative"`,
		`GATEHOUSE_MODE: must be one of slow, safe: "fast"`,
		`GATEHOUSE_PEPPER: required`,
		`GATEHOUSE_CUSTOM: must be even`,
	}
	err := l.Err()
	if err == nil {
		t.Fatal("Err() = nil")
	}
	if got := strings.Split(err.Error(), "\n"); !slices.Equal(got, want) {
		t.Fatalf("Err() lines =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !errors.Is(err, ErrRequired) || !errors.Is(err, ErrInvalid) {
		t.Fatalf("Err() does not match ErrRequired and ErrInvalid: %v", err)
	}
	var ve *VarError
	if !errors.As(err, &ve) || ve.Var != "GATEHOUSE_DB_URL" {
		t.Fatalf("errors.As VarError = %+v", ve)
	}
}

// Controls: CRED-9
func TestLoaderRejectsPlainSecretsWhenDeployed(t *testing.T) {
	tests := []struct {
		name    string
		env     string
		wantErr bool
	}{
		{"dev allows a plain value", "dev", false},
		{"staging rejects a plain value", "staging", true},
		{"prod rejects a plain value", "prod", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := newTestLoader(map[string]string{EnvVar: tc.env, "GATEHOUSE_HOOK": testSecretValue, "GATEHOUSE_OPT": testSecretValue})
			req, opt := l.Secret("GATEHOUSE_HOOK"), l.OptionalSecret("GATEHOUSE_OPT")
			err := l.Err()
			if !tc.wantErr {
				if err != nil || req.Reveal() != testSecretValue || opt.Reveal() != testSecretValue {
					t.Fatalf("got %v, want the plain values and no error", err)
				}
				return
			}
			if !errors.Is(err, ErrPlainSecret) || !req.IsZero() || !opt.IsZero() {
				t.Fatalf("Err() = %v, secrets zero %v %v; want ErrPlainSecret and zero secrets", err, req.IsZero(), opt.IsZero())
			}
			for _, name := range []string{"GATEHOUSE_HOOK: must be an sm://", "GATEHOUSE_OPT: must be an sm://"} {
				if !strings.Contains(err.Error(), name) {
					t.Errorf("Err() = %q, want %q", err, name)
				}
			}
			if strings.Contains(err.Error(), testSecretValue) {
				t.Fatalf("error exposes the secret: %v", err)
			}
		})
	}
}

// Controls: CRED-9, APP-5
func TestLoaderFailsClosedWithoutSecretSource(t *testing.T) {
	l := newTestLoader(map[string]string{"GATEHOUSE_HOOK": refOK})
	if s := l.Secret("GATEHOUSE_HOOK"); !s.IsZero() {
		t.Fatalf("Secret = non-zero without a source")
	}
	if err := l.Err(); !errors.Is(err, ErrSecretAccess) || !strings.HasPrefix(err.Error(), "GATEHOUSE_HOOK: ") {
		t.Fatalf("Err() = %v, want ErrSecretAccess naming GATEHOUSE_HOOK", err)
	}
}

// Controls: CRED-9, APP-5
func TestLoaderEnvironment(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    Env
		wantErr string
	}{
		{"default is dev", map[string]string{}, EnvDev, ""},
		{"staging", map[string]string{EnvVar: "staging"}, EnvStaging, ""},
		{"prod", map[string]string{EnvVar: "prod"}, EnvProd, ""},
		{"invalid is treated as prod", map[string]string{EnvVar: "production"}, EnvProd, `GATEHOUSE_ENV: must be one of dev, staging, prod: "production"`},
		{"dev refused on Cloud Run", map[string]string{"K_SERVICE": "auth"}, EnvProd, "GATEHOUSE_ENV: dev is not allowed on Cloud Run"},
		{"prod on Cloud Run", map[string]string{"K_SERVICE": "auth", EnvVar: "prod"}, EnvProd, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := newTestLoader(tc.env)
			err := l.Err()
			if l.Env() != tc.want {
				t.Fatalf("Env() = %q, want %q", l.Env(), tc.want)
			}
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.wantErr)) {
				t.Fatalf("Err() = %v, want prefix %q", err, tc.wantErr)
			}
		})
	}
}

func TestLoaderListDoesNotShareDefault(t *testing.T) {
	def := []string{"a"}
	got := newTestLoader(nil).List("GATEHOUSE_UNSET", def)
	got[0] = "changed"
	if def[0] != "a" {
		t.Fatal("List returned the caller's default slice")
	}
}

func TestLoaderURLRejectsInvalidDefault(t *testing.T) {
	l := newTestLoader(nil)
	if u := l.URL("GATEHOUSE_U", "not a url"); u != nil {
		t.Fatalf("URL = %v, want nil", u)
	}
	if err := l.Err(); err == nil || !strings.HasPrefix(err.Error(), "GATEHOUSE_U: not an absolute URL") {
		t.Fatalf("Err() = %v", err)
	}
}
