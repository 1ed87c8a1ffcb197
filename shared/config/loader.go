package config

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/logging"
	"github.com/gatehouse-dev/gatehouse/shared/timetext"
)

// Env is the deployment environment named by GATEHOUSE_ENV.
type Env string

// The environments. Only [EnvDev] allows plain-environment secrets, a local
// key file and the development mailbox.
const (
	EnvDev     Env = "dev"
	EnvStaging Env = "staging"
	EnvProd    Env = "prod"
)

// Deployed reports whether e is a deployed environment (staging or prod).
func (e Env) Deployed() bool { return e != EnvDev }

// EnvVar is the variable that selects the environment.
const EnvVar = "GATEHOUSE_ENV"

// The kinds of problem a [VarError] reports; match them with errors.Is.
var (
	ErrRequired     = errors.New("required")
	ErrInvalid      = errors.New("invalid value")
	ErrPlainSecret  = errors.New("secret not from Secret Manager")
	ErrSecretAccess = errors.New("secret access failed")
)

// VarError is one problem with one variable. Its message starts with the
// variable name and never contains a secret value.
type VarError struct {
	Var    string // the variable, e.g. GATEHOUSE_DB_URL
	Kind   error  // ErrRequired, ErrInvalid, ErrPlainSecret, ErrSecretAccess or ErrBadReference
	Detail string // what is wrong, e.g. `not an integer: "x"`
	Err    error  // the underlying cause, if any
}

func (e *VarError) Error() string {
	parts := []string{e.Var}
	if e.Detail != "" {
		parts = append(parts, e.Detail)
	}
	if e.Err != nil {
		parts = append(parts, e.Err.Error())
	}
	return strings.Join(parts, ": ")
}

// Unwrap returns the kind and the cause, so errors.Is matches either.
func (e *VarError) Unwrap() []error {
	var errs []error
	for _, err := range []error{e.Kind, e.Err} {
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// resolved is the value of one variable after Secret Manager resolution.
type resolved struct {
	value  string
	set    bool // present and non-empty
	fromSM bool // read through an sm:// reference
	failed bool // resolution failed; the error is already recorded
}

// Loader reads typed configuration from GATEHOUSE_* variables. Each accessor
// returns a usable value (its default, or the zero value) even when the
// variable is wrong, and records the problem; [Loader.Err] reports every
// problem at once, so a function validates its whole configuration at start
// and refuses to start if Err is non-nil.
//
// Any variable may hold an sm:// reference ([ParseSecretRef]); the loader
// reads it from its [SecretSource], once per variable. A malformed reference,
// a missing source or a failed read is an error naming the variable: the
// loader fails closed. An empty or unset variable counts as unset.
//
// A Loader is not safe for concurrent use.
type Loader struct {
	ctx     context.Context
	lookup  func(string) (string, bool)
	secrets SecretSource
	env     Env
	decl    *declarations // nil accepts any name (this package's tests)
	cache   map[string]resolved
	errs    []error
}

// NewLoader returns a Loader reading variables with lookup (os.LookupEnv in
// production) and sm:// references with secrets, which may be nil when no
// variable uses a reference. ctx bounds every Secret Manager call.
//
// NewLoader reads GATEHOUSE_ENV at once, because the environment decides
// which values are acceptable. An invalid value, or "dev" (also the default
// when unset) inside Cloud Run (K_SERVICE set), is recorded and treated as
// prod, the strictest setting: a deployed function can never run with
// development settings.
func NewLoader(ctx context.Context, lookup func(string) (string, bool), secrets SecretSource) *Loader {
	l := &Loader{ctx: ctx, lookup: lookup, secrets: secrets, decl: defaultDeclarations, cache: map[string]resolved{}}
	l.env = EnvProd
	v := l.OneOf(EnvVar, string(EnvDev), string(EnvDev), string(EnvStaging), string(EnvProd))
	if l.failed(EnvVar) {
		return l
	}
	if _, onCloudRun := lookup(cloudRunVar); onCloudRun && Env(v) == EnvDev {
		l.record(&VarError{Var: EnvVar, Kind: ErrInvalid,
			Detail: "dev is not allowed on Cloud Run (" + cloudRunVar + " is set); set staging or prod"})
		return l
	}
	l.env = Env(v)
	return l
}

// cloudRunVar is set by Cloud Run (and Cloud Run functions) in every
// deployed container; its presence proves the process is not a local server.
const cloudRunVar = "K_SERVICE"

// Env returns the environment read from GATEHOUSE_ENV.
func (l *Loader) Env() Env { return l.env }

// OnCloudRun reports whether the process runs on Cloud Run (K_SERVICE is
// set), behind Cloud Run's front end.
func (l *Loader) OnCloudRun() bool {
	_, ok := l.lookup(cloudRunVar)
	return ok
}

// Err returns every problem recorded so far, joined, each a [*VarError]; nil
// if there is none.
func (l *Loader) Err() error { return errors.Join(l.errs...) }

// Fail records a problem that the caller's own validation found. reason must
// not contain a secret value.
func (l *Loader) Fail(name, reason string) {
	l.checkDeclared(name)
	l.record(&VarError{Var: name, Kind: ErrInvalid, Detail: reason})
}

func (l *Loader) record(err *VarError) {
	for _, e := range l.errs {
		if e.Error() == err.Error() {
			return
		}
	}
	l.errs = append(l.errs, err)
}

func (l *Loader) failed(name string) bool {
	for _, e := range l.errs {
		var ve *VarError
		if errors.As(e, &ve) && ve.Var == name {
			return true
		}
	}
	return false
}

// raw returns the variable's value, resolving an sm:// reference.
func (l *Loader) raw(name string) resolved {
	if r, ok := l.cache[name]; ok {
		return r
	}
	l.checkDeclared(name)
	r := l.resolve(name)
	l.cache[name] = r
	return r
}

func (l *Loader) resolve(name string) resolved {
	v, ok := l.lookup(name)
	if !ok || v == "" {
		return resolved{}
	}
	if !strings.HasPrefix(v, SecretRefPrefix) {
		return resolved{value: v, set: true}
	}
	ref, err := ParseSecretRef(v)
	if err != nil {
		l.record(&VarError{Var: name, Kind: ErrBadReference, Err: err})
		return resolved{failed: true}
	}
	if l.secrets == nil {
		l.record(&VarError{Var: name, Kind: ErrSecretAccess, Detail: "sm:// reference but no Secret Manager client"})
		return resolved{failed: true}
	}
	b, err := l.secrets.Access(l.ctx, ref.Name())
	if err != nil {
		l.record(&VarError{Var: name, Kind: ErrSecretAccess, Detail: "read " + SecretRefPrefix + ref.Name(), Err: err})
		return resolved{failed: true}
	}
	if len(b) == 0 {
		l.record(&VarError{Var: name, Kind: ErrSecretAccess, Detail: "read " + SecretRefPrefix + ref.Name() + ": empty payload"})
		return resolved{failed: true}
	}
	return resolved{value: string(b), set: true, fromSM: true}
}

// text returns a non-secret value with surrounding white space removed (a
// payload stored with `echo` ends in a newline).
func (l *Loader) text(name string) (string, resolved) {
	r := l.raw(name)
	return strings.TrimSpace(r.value), r
}

// invalid records that a non-secret value is wrong. The value is quoted only
// when it came from the plain environment: a Secret Manager payload is
// never echoed, even for a variable not declared secret.
func (l *Loader) invalid(name, what, value string, r resolved) {
	detail := what + ": (value from Secret Manager withheld)"
	if !r.fromSM {
		if len(value) > 64 {
			value = value[:64] + "..."
		}
		detail = fmt.Sprintf("%s: %q", what, value)
	}
	l.record(&VarError{Var: name, Kind: ErrInvalid, Detail: detail})
}

// String returns the variable's value, or def if it is unset.
func (l *Loader) String(name, def string) string {
	v, r := l.text(name)
	if !r.set {
		return def
	}
	return v
}

// Required returns the variable's value and records [ErrRequired] if it is
// unset.
func (l *Loader) Required(name string) string {
	v, r := l.text(name)
	if !r.set && !r.failed {
		l.record(&VarError{Var: name, Kind: ErrRequired, Detail: "required"})
	}
	return v
}

// OneOf returns the variable's value, or def if it is unset, and records an
// error if the value is not one of allowed.
func (l *Loader) OneOf(name, def string, allowed ...string) string {
	v := l.String(name, def)
	if !slices.Contains(allowed, v) {
		l.invalid(name, "must be one of "+strings.Join(allowed, ", "), v, l.raw(name))
		return def
	}
	return v
}

// Int returns the variable as a decimal integer, or def if it is unset.
func (l *Loader) Int(name string, def int) int {
	v, r := l.text(name)
	if !r.set {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		l.invalid(name, "not an integer", v, r)
		return def
	}
	return n
}

// Float returns the variable as a decimal number, or def if it is unset.
func (l *Loader) Float(name string, def float64) float64 {
	v, r := l.text(name)
	if !r.set {
		return def
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		l.invalid(name, "not a number", v, r)
		return def
	}
	return f
}

// Duration returns the variable parsed by time.ParseDuration ("15m",
// "720h"), or def if it is unset.
func (l *Loader) Duration(name string, def time.Duration) time.Duration {
	v, r := l.text(name)
	if !r.set {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		l.invalid(name, "not a duration", v, r)
		return def
	}
	return d
}

// CheckDuration records an error for name unless lo <= d <= hi, stating
// the range and the value as people write them ("must be between 1 minute
// and 10 minutes; got 15 minutes").
func (l *Loader) CheckDuration(name string, d, lo, hi time.Duration) {
	if d < lo || d > hi {
		l.Fail(name, fmt.Sprintf("must be between %s and %s; got %s", timetext.Duration(lo), timetext.Duration(hi), timetext.Duration(d)))
	}
}

// Bool returns the variable parsed by strconv.ParseBool, or def if it is
// unset.
func (l *Loader) Bool(name string, def bool) bool {
	v, r := l.text(name)
	if !r.set {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		l.invalid(name, "not a boolean", v, r)
		return def
	}
	return b
}

// List returns the comma-separated items of the variable, each trimmed,
// empty items dropped; def if it is unset. The result is never shared with def.
func (l *Loader) List(name string, def []string) []string {
	v, r := l.text(name)
	if !r.set {
		return slices.Clone(def)
	}
	var out []string
	for item := range strings.SplitSeq(v, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// URL returns the variable as an absolute URL (scheme and host), or def
// parsed the same way if it is unset; nil if both are empty. An invalid def
// is recorded like an invalid value.
func (l *Loader) URL(name, def string) *url.URL {
	v, r := l.text(name)
	if !r.set {
		v, r = def, resolved{value: def, set: def != ""}
	}
	if !r.set {
		return nil
	}
	u, err := url.Parse(v)
	if err != nil || u.Scheme == "" || u.Host == "" || u.Opaque != "" {
		// url.Parse errors repeat the input, so they are not wrapped.
		l.invalid(name, "not an absolute URL", v, r)
		return nil
	}
	return u
}

// Secret returns a required secret. In a deployed environment (staging,
// prod) the variable must hold an sm:// reference; a plain value is recorded
// as [ErrPlainSecret] (control CRED-9). Secret bytes are used as stored,
// without trimming.
func (l *Loader) Secret(name string) Secret {
	s, r := l.secret(name)
	if !r.set && !r.failed {
		l.record(&VarError{Var: name, Kind: ErrRequired, Detail: "required"})
	}
	return s
}

// OptionalSecret is [Loader.Secret] for a secret that may be unset, in which
// case it returns the zero Secret.
func (l *Loader) OptionalSecret(name string) Secret {
	s, _ := l.secret(name)
	return s
}

func (l *Loader) secret(name string) (Secret, resolved) {
	r := l.raw(name)
	if r.set && !r.fromSM && l.env.Deployed() {
		l.record(&VarError{Var: name, Kind: ErrPlainSecret,
			Detail: fmt.Sprintf("must be an %sprojects/P/secrets/S/versions/V reference when %s=%s", SecretRefPrefix, EnvVar, l.env)})
		return Secret{}, r
	}
	return logging.NewSecret(r.value), r
}
