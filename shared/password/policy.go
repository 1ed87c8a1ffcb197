package password

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/ccojocar/zxcvbn-go"
)

// Policy is a password policy in the spirit of NIST SP 800-63B section
// 5.1.1.2: length bounds, rejection of common and guessable passwords, and
// no composition rules (no "one digit, one symbol" requirements, which make
// passwords harder to remember without making them much harder to guess).
//
// Guessability is judged by zxcvbn (github.com/ccojocar/zxcvbn-go, a Go port
// of Dropbox's estimator): its dictionaries hold the most common leaked
// passwords, names and words, and it sees through l33t substitutions,
// keyboard patterns, dates, sequences and repeats.
type Policy struct {
	MinLength int // characters (code points); 8 per NIST
	MaxLength int // at least 64 per NIST
	MinScore  int // zxcvbn score 0..4 a password must reach
}

// DefaultPolicy: 8 to 128 characters, zxcvbn score at least 2.
var DefaultPolicy = Policy{MinLength: 8, MaxLength: 128, MinScore: 2}

// scoredPrefix bounds how many characters zxcvbn scores: its cost grows
// fast with length, and a longer password only gains entropy past it.
const scoredPrefix = 64

// PolicyError says why a password was rejected; Reason is safe to show.
type PolicyError struct{ Reason string }

func (e *PolicyError) Error() string { return "password rejected: " + e.Reason }

// Check returns nil if password meets the policy, else a *[PolicyError].
// context lists words the password must not be built from (the user's email
// address and name, the service name).
func (p Policy) Check(password string, context ...string) error {
	if !utf8.ValidString(password) {
		return &PolicyError{Reason: "must be valid UTF-8"}
	}
	n := utf8.RuneCountInString(password)
	if n < p.MinLength || n > p.MaxLength {
		return &PolicyError{Reason: lengthReason(p.MinLength, p.MaxLength)}
	}
	scored := password
	if n > scoredPrefix {
		scored = string([]rune(password)[:scoredPrefix])
	}
	if zxcvbn.PasswordStrength(scored, contextWords(context)).Score < p.MinScore {
		return &PolicyError{Reason: "is too common or too easy to guess; try a longer passphrase"}
	}
	return nil
}

func lengthReason(minLen, maxLen int) string {
	return "must be between " + strconv.Itoa(minLen) + " and " + strconv.Itoa(maxLen) + " characters"
}

// contextWords splits email addresses and names into the words a password
// should not reuse.
func contextWords(in []string) []string {
	out := []string{"gatehouse"}
	for _, s := range in {
		s = strings.ToLower(s)
		out = append(out, s)
		out = append(out, strings.FieldsFunc(s, func(r rune) bool {
			return r == '@' || r == '.' || r == ' ' || r == '_' || r == '-' || r == '+'
		})...)
	}
	return out
}
