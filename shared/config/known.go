package config

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/agext/levenshtein"
)

// The kinds of problem [Loader.CheckUnknown] and the declaration check
// record; match them with errors.Is.
var (
	ErrUnknown    = errors.New("unknown variable")
	ErrUndeclared = errors.New("undeclared variable")
)

// Prefix starts every Gatehouse variable.
const Prefix = "GATEHOUSE_"

// declarations matches names against declared variables and families.
type declarations struct {
	exact    map[string]bool
	families []*regexp.Regexp
	names    []string // every declared name, families as written, for suggestions
}

var placeholderRE = regexp.MustCompile(`<[A-Z]+>`)

func newDeclarations(groups []Group) *declarations {
	d := &declarations{exact: map[string]bool{}}
	for _, g := range groups {
		d.add(g.Vars...)
	}
	return d
}

func (d *declarations) add(vars ...Variable) {
	for _, v := range vars {
		d.names = append(d.names, v.Name)
		if !placeholderRE.MatchString(v.Name) {
			d.exact[v.Name] = true
			continue
		}
		parts := placeholderRE.Split(v.Name, -1)
		for i, p := range parts {
			parts[i] = regexp.QuoteMeta(p)
		}
		d.families = append(d.families, regexp.MustCompile("^"+strings.Join(parts, "[A-Z0-9_]+")+"$"))
	}
}

func (d *declarations) has(name string) bool {
	if d.exact[name] {
		return true
	}
	return slices.ContainsFunc(d.families, func(re *regexp.Regexp) bool { return re.MatchString(name) })
}

// closest returns the declared name nearest to name by edit distance.
func (d *declarations) closest(name string) string {
	best, bestDist := "", -1
	for _, c := range d.names {
		if dist := levenshtein.Distance(name, c, nil); bestDist < 0 || dist < bestDist {
			best, bestDist = c, dist
		}
	}
	return best
}

var defaultDeclarations = newDeclarations(Groups())

// Declare adds variables that another package enumerates (one
// GATEHOUSE_LIMIT_* per rate limit in shared/ratelimit's catalogue), so the
// Loader reads them and [Loader.CheckUnknown] accepts them. Call it before
// reading them.
func (l *Loader) Declare(vars ...Variable) {
	if l.decl == defaultDeclarations {
		c := *defaultDeclarations
		c.exact = make(map[string]bool, len(c.exact))
		for k, v := range defaultDeclarations.exact {
			c.exact[k] = v
		}
		c.families = slices.Clone(c.families)
		c.names = slices.Clone(c.names)
		l.decl = &c
	}
	l.decl.add(vars...)
}

// Declared reports whether name is declared, exactly or as a member of a
// declared family.
func (l *Loader) Declared(name string) bool { return l.decl == nil || l.decl.has(name) }

// checkDeclared records [ErrUndeclared] for a name the code reads without
// declaring it: a programming error that every test building the function
// then reports.
func (l *Loader) checkDeclared(name string) {
	if !l.Declared(name) {
		l.record(&VarError{Var: name, Kind: ErrUndeclared,
			Detail: "read by the code but not declared in shared/config (vars.go): declare it there"})
	}
}

// CheckUnknown looks at every GATEHOUSE_* variable in environ (KEY=VALUE
// entries, as os.Environ returns them) that no declaration names. In
// staging and prod each is recorded as [ErrUnknown], so the function does
// not start; in dev they are returned as warnings to log. Either way the
// message names the closest declared variable: a misspelling such as
// GATEHOUSE_STRIPE_WEBHOOK_SECRET would otherwise be ignored silently.
func (l *Loader) CheckUnknown(environ []string) (warnings []string) {
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, Prefix) || l.Declared(name) {
			continue
		}
		detail := fmt.Sprintf("not a Gatehouse variable; did you mean %s?", l.decl.closest(name))
		if !l.env.Deployed() {
			warnings = append(warnings, name+": "+detail)
			continue
		}
		l.record(&VarError{Var: name, Kind: ErrUnknown, Detail: detail + " (unknown variables are refused when " + EnvVar + "=" + string(l.env) + ")"})
	}
	slices.Sort(warnings)
	return warnings
}
