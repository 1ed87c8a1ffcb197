package logging

import (
	"fmt"
	"log/slog"
)

// Secret holds a plaintext secret (a password, token, code or key) so that it
// cannot be printed by accident: every fmt verb, String, GoString, JSON and
// text marshalling and slog print [Redacted]. [Secret.Reveal] is the only way
// to the plaintext; call it at the one place that needs the bytes and do not
// keep the result.
//
// The zero Secret is empty. Secrets compare with == by value; compare
// secrets from untrusted input with crypto/subtle instead.
type Secret struct {
	value string
}

// NewSecret wraps s.
func NewSecret(s string) Secret { return Secret{value: s} }

// Reveal returns the plaintext.
func (s Secret) Reveal() string { return s.value }

// IsZero reports whether the secret is empty.
func (s Secret) IsZero() bool { return s.value == "" }

// String returns [Redacted].
func (s Secret) String() string { return Redacted }

// GoString returns [Redacted], for the %#v verb.
func (s Secret) GoString() string { return Redacted }

// Format prints [Redacted] for every verb and flag, so that verbs that would
// otherwise print the struct's fields (%d, %+v) cannot reveal the value.
func (s Secret) Format(f fmt.State, verb rune) { _, _ = f.Write([]byte(Redacted)) }

// LogValue returns [Redacted] for log/slog.
func (s Secret) LogValue() slog.Value { return slog.StringValue(Redacted) }

// MarshalJSON returns the JSON string "[REDACTED]".
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + Redacted + `"`), nil }

// MarshalText returns [Redacted], for encoders that use encoding.TextMarshaler
// (JSON map keys, XML, many configuration formats).
func (s Secret) MarshalText() ([]byte, error) { return []byte(Redacted), nil }
