package tfcheck

import (
	"fmt"
	"slices"
	"strings"
	"unicode"
)

// logFilter is a small interpreter for the part of the Cloud Logging query
// language the Terraform's filters use, so tests can run them against the
// log lines the code writes: comparisons field=value, field!=value,
// field:value (substring; :* means present) and severity>=LEVEL; values
// quoted or bare, or a parenthesised OR of values; AND, OR (which binds
// tighter than AND, as in Cloud Logging), NOT and parentheses. String
// comparisons ignore case, as Cloud Logging's do.
type logFilter struct {
	toks []string
	pos  int
}

// matchFilter reports whether entry (flattened field paths => values)
// matches filter.
func matchFilter(filter string, entry map[string]string) (bool, error) {
	p := &logFilter{toks: lexFilter(filter)}
	node, err := p.conj()
	if err != nil {
		return false, err
	}
	if p.pos != len(p.toks) {
		return false, fmt.Errorf("unexpected %q", p.toks[p.pos])
	}
	return node(entry), nil
}

type matcher func(map[string]string) bool

func lexFilter(s string) []string {
	var toks []string
	for i := 0; i < len(s); {
		r := rune(s[i])
		switch {
		case unicode.IsSpace(r):
			i++
		case r == '"':
			j := i + 1
			for j < len(s) && s[j] != '"' {
				if s[j] == '\\' {
					j++
				}
				j++
			}
			toks = append(toks, s[i:min(j+1, len(s))])
			i = j + 1
		case strings.ContainsRune("()", r):
			toks = append(toks, string(r))
			i++
		case strings.ContainsRune("=!<>:", r):
			j := i + 1
			if j < len(s) && s[j] == '=' {
				j++
			}
			toks = append(toks, s[i:j])
			i = j
		default:
			j := i
			for j < len(s) && !unicode.IsSpace(rune(s[j])) && !strings.ContainsRune("()=!<>:\"", rune(s[j])) {
				j++
			}
			toks = append(toks, s[i:j])
			i = j
		}
	}
	return toks
}

func (p *logFilter) peek() string {
	if p.pos < len(p.toks) {
		return p.toks[p.pos]
	}
	return ""
}

func (p *logFilter) next() string { t := p.peek(); p.pos++; return t }

// conj: disj { [AND] disj } (juxtaposition is AND).
func (p *logFilter) conj() (matcher, error) {
	terms := []matcher{}
	for {
		m, err := p.disj()
		if err != nil {
			return nil, err
		}
		terms = append(terms, m)
		if p.peek() == "AND" {
			p.next()
			continue
		}
		if t := p.peek(); t == "" || t == ")" {
			break
		}
	}
	return func(e map[string]string) bool {
		for _, m := range terms {
			if !m(e) {
				return false
			}
		}
		return true
	}, nil
}

// disj: unary { OR unary }.
func (p *logFilter) disj() (matcher, error) {
	terms := []matcher{}
	for {
		m, err := p.unary()
		if err != nil {
			return nil, err
		}
		terms = append(terms, m)
		if p.peek() != "OR" {
			break
		}
		p.next()
	}
	return func(e map[string]string) bool {
		return slices.ContainsFunc(terms, func(m matcher) bool { return m(e) })
	}, nil
}

func (p *logFilter) unary() (matcher, error) {
	if p.peek() == "NOT" {
		p.next()
		m, err := p.unary()
		if err != nil {
			return nil, err
		}
		return func(e map[string]string) bool { return !m(e) }, nil
	}
	if p.peek() == "(" {
		p.next()
		m, err := p.conj()
		if err != nil {
			return nil, err
		}
		if p.next() != ")" {
			return nil, fmt.Errorf("missing )")
		}
		return m, nil
	}
	return p.comparison()
}

func (p *logFilter) comparison() (matcher, error) {
	field, op := p.next(), p.next()
	if !slices.Contains([]string{"=", "!=", ":", ">=", "<=", ">", "<"}, op) {
		return nil, fmt.Errorf("field %q: unsupported operator %q", field, op)
	}
	var values []string
	if p.peek() == "(" {
		p.next()
		for {
			values = append(values, unquote(p.next()))
			if t := p.next(); t == ")" {
				break
			} else if t != "OR" {
				return nil, fmt.Errorf("field %q: want OR or ) in a value list, got %q", field, t)
			}
		}
	} else {
		values = []string{unquote(p.next())}
	}
	return func(e map[string]string) bool {
		got, present := e[field]
		return slices.ContainsFunc(values, func(v string) bool { return compare(field, op, got, present, v) })
	}, nil
}

func unquote(s string) string {
	if len(s) >= 2 && s[0] == '"' {
		return strings.ReplaceAll(s[1:len(s)-1], `\"`, `"`)
	}
	return s
}

var severities = []string{"DEFAULT", "DEBUG", "INFO", "NOTICE", "WARNING", "ERROR", "CRITICAL", "ALERT", "EMERGENCY"}

func compare(field, op, got string, present bool, want string) bool {
	switch op {
	case "=":
		return present && strings.EqualFold(got, want)
	case "!=":
		return !present || !strings.EqualFold(got, want)
	case ":":
		return present && (want == "*" || strings.Contains(strings.ToLower(got), strings.ToLower(want)))
	}
	if field != "severity" || !present {
		return false
	}
	g, w := slices.Index(severities, strings.ToUpper(got)), slices.Index(severities, strings.ToUpper(want))
	switch op {
	case ">=":
		return g >= w
	case "<=":
		return g <= w
	case ">":
		return g > w
	default:
		return g < w
	}
}
