package web

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode/utf8"
)

// Validator collects problems with the fields of a request and turns them
// into one 400 response:
//
//	v := web.NewValidator()
//	v.Email("email", req.Email)
//	v.Length("name", req.Name, 1, 100)
//	v.OneOf("role", req.Role, "admin", "operator", "viewer")
//	if err := v.Err(); err != nil {
//		return err
//	}
//
// Only the first problem found for a field is kept, so checks can be stacked
// from the most basic to the most specific. The zero Validator is ready to use.
type Validator struct {
	fields map[string]string
}

// NewValidator returns an empty validator.
func NewValidator() *Validator { return &Validator{} }

// Require records msg against field unless ok, and returns ok.
func (v *Validator) Require(ok bool, field, msg string) bool {
	if ok {
		return true
	}
	if _, seen := v.fields[field]; !seen {
		if v.fields == nil {
			v.fields = map[string]string{}
		}
		v.fields[field] = msg
	}
	return false
}

// Length checks that value is valid UTF-8 of minLen to maxLen characters
// (Unicode code points). An empty value with minLen > 0 is reported as missing.
func (v *Validator) Length(field, value string, minLen, maxLen int) bool {
	if !v.Require(utf8.ValidString(value), field, "must be valid UTF-8") {
		return false
	}
	if !v.Require(value != "" || minLen <= 0, field, "is required") {
		return false
	}
	n := utf8.RuneCountInString(value)
	return v.Require(n >= minLen && n <= maxLen, field, lengthMessage(minLen, maxLen))
}

func lengthMessage(minLen, maxLen int) string {
	switch {
	case minLen == maxLen:
		return fmt.Sprintf("must be exactly %d characters", minLen)
	case minLen <= 0:
		return fmt.Sprintf("must be at most %d characters", maxLen)
	default:
		return fmt.Sprintf("must be between %d and %d characters", minLen, maxLen)
	}
}

// Email checks that value is an email address as [ValidEmail] defines it.
func (v *Validator) Email(field, value string) bool {
	if !v.Require(value != "", field, "is required") {
		return false
	}
	return v.Require(ValidEmail(value), field, "must be a valid email address")
}

// OneOf checks that value is exactly one of allowed.
func (v *Validator) OneOf(field, value string, allowed ...string) bool {
	return v.Require(slices.Contains(allowed, value), field,
		"must be one of: "+strings.Join(allowed, ", "))
}

// Valid reports whether no problem has been recorded.
func (v *Validator) Valid() bool { return len(v.fields) == 0 }

// Err returns nil if no problem has been recorded, else an [Invalid] error
// listing every problem.
func (v *Validator) Err() error {
	if v.Valid() {
		return nil
	}
	return Invalid(maps.Clone(v.fields))
}

// Length limits for email addresses (RFC 5321 section 4.5.3.1, with the
// 254-character path limit applied to the whole address).
const (
	maxEmailLen  = 254
	maxLocalLen  = 64
	maxLabelLen  = 63
	maxDomainLen = 253
)

// ValidEmail reports whether s is an ASCII email address of the common form
// local@domain.tld: at most 254 characters; a local part of at most 64
// characters, RFC 5322 atoms joined by single dots; a domain of at least two
// dot-separated labels of letters, digits and inner hyphens, each at most 63
// characters, the last not all digits. Quoted local parts, comments, IP
// literals and non-ASCII (use punycode) are rejected.
func ValidEmail(s string) bool {
	if len(s) > maxEmailLen {
		return false
	}
	local, domain, ok := strings.Cut(s, "@")
	return ok && validLocal(local) && validDomain(domain)
}

func validLocal(s string) bool {
	if s == "" || len(s) > maxLocalLen {
		return false
	}
	for atom := range strings.SplitSeq(s, ".") {
		if atom == "" || strings.IndexFunc(atom, func(r rune) bool { return !isAtext(r) }) >= 0 {
			return false
		}
	}
	return true
}

// isAtext reports whether r may appear in an RFC 5322 atom.
func isAtext(r rune) bool {
	return isAlnum(r) || (r < utf8.RuneSelf && strings.ContainsRune("!#$%&'*+-/=?^_`{|}~", r))
}

func isAlnum(r rune) bool {
	return ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z') || ('0' <= r && r <= '9')
}

func validDomain(s string) bool {
	if len(s) > maxDomainLen {
		return false
	}
	labels := strings.Split(s, ".")
	if len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if !validLabel(l) {
			return false
		}
	}
	tld := labels[len(labels)-1]
	return strings.IndexFunc(tld, func(r rune) bool { return r < '0' || r > '9' }) >= 0
}

func validLabel(l string) bool {
	if l == "" || len(l) > maxLabelLen || l[0] == '-' || l[len(l)-1] == '-' {
		return false
	}
	return strings.IndexFunc(l, func(r rune) bool { return !isAlnum(r) && r != '-' }) < 0
}
