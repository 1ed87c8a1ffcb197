// Package logtest captures the JSON logs of a Gatehouse logger in tests and
// fails the test if a planted secret shows up in them.
//
//	logger, logs := logtest.New(t)
//	logs.Plant(password, refreshToken)
//	... run the flow with logger ...
//	entries := logs.Find("login failed")
//
// When the test ends, every captured line is checked for every planted secret
// in its raw, JSON-escaped, URL-escaped, hex and base64 forms (base64 at any
// byte alignment, so "Basic " + base64("user:" + password) is caught too).
package logtest

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/gatehouse-dev/gatehouse/shared/logging"
)

// MinSecretLen is the shortest secret [Capture.Plant] accepts; shorter ones
// would match innocent text.
const MinSecretLen = 6

// ProjectID is the project the logger from [New] names in trace fields.
const ProjectID = "test-project"

// Entry is one parsed log line.
type Entry map[string]any

// Message returns the entry's message field.
func (e Entry) Message() string { return e.String("message") }

// Severity returns the entry's severity field.
func (e Entry) Severity() string { return e.String("severity") }

// String returns the top-level field key if it is a string, else "".
func (e Entry) String(key string) string {
	s, _ := e[key].(string)
	return s
}

// Capture is an io.Writer that keeps every line written to it. It is safe for
// concurrent use.
type Capture struct {
	t       testing.TB
	mu      sync.Mutex
	partial []byte
	lines   []string
	planted []form
}

// form is one encoding of a planted secret.
type form struct {
	secret int    // index of the planted secret, for messages
	name   string // which encoding
	text   string
}

// New returns a debug-level logger built by [logging.New] that writes to a
// new [Capture], which checks its lines for planted secrets when t ends.
func New(t testing.TB) (*slog.Logger, *Capture) {
	t.Helper()
	c := NewCapture(t)
	return logging.New(c, logging.Options{Level: slog.LevelDebug, ProjectID: ProjectID}), c
}

// NewCapture returns an empty capture that runs [Capture.AssertClean] when t
// ends. Use it to build a logger with other options.
func NewCapture(t testing.TB) *Capture {
	t.Helper()
	c := &Capture{t: t}
	t.Cleanup(func() { c.AssertClean(t) })
	return c
}

// Write records the complete lines in p; an unterminated tail is kept until
// its newline arrives.
func (c *Capture) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.partial = append(c.partial, p...)
	for {
		i := bytes.IndexByte(c.partial, '\n')
		if i < 0 {
			break
		}
		c.lines = append(c.lines, string(c.partial[:i]))
		c.partial = c.partial[i+1:]
	}
	return len(p), nil
}

// Plant registers secrets that must never appear in the captured logs. It
// fails the test at once for a secret shorter than [MinSecretLen].
func (c *Capture) Plant(secrets ...string) {
	c.t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range secrets {
		if len(s) < MinSecretLen {
			c.t.Fatalf("logtest: planted secret %q is shorter than %d bytes", s, MinSecretLen)
		}
		c.planted = append(c.planted, forms(len(c.planted), s)...)
	}
}

// AssertClean reports an error on t for every captured line, including an
// unterminated last line, that contains a planted secret in any form.
func (c *Capture) AssertClean(t testing.TB) {
	t.Helper()
	c.mu.Lock()
	lines := append(c.rawLines(), string(c.partial))
	planted := c.planted
	c.mu.Unlock()
	for i, line := range lines {
		texts := append(decodedStrings(line), line)
		for _, f := range planted {
			if containsAny(texts, f.text) {
				t.Errorf("logtest: log line %d contains planted secret #%d (%s form): %s", i, f.secret, f.name, line)
			}
		}
	}
}

// Lines returns every captured line, parsed. A line that is not a JSON object
// fails the test.
func (c *Capture) Lines() []Entry {
	c.t.Helper()
	c.mu.Lock()
	lines := c.rawLines()
	c.mu.Unlock()
	out := make([]Entry, 0, len(lines))
	for i, line := range lines {
		var e Entry
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			c.t.Errorf("logtest: log line %d is not a JSON object: %v: %s", i, err, line)
			continue
		}
		out = append(out, e)
	}
	return out
}

// Find returns the captured entries whose message is msg, in order.
func (c *Capture) Find(msg string) []Entry {
	c.t.Helper()
	var out []Entry
	for _, e := range c.Lines() {
		if e.Message() == msg {
			out = append(out, e)
		}
	}
	return out
}

// Raw returns the captured lines as written.
func (c *Capture) Raw() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rawLines()
}

func (c *Capture) rawLines() []string {
	return append([]string(nil), c.lines...)
}

// forms returns the encodings of secret s searched for in log lines.
func forms(idx int, s string) []form {
	candidates := []form{
		{name: "raw", text: s},
		{name: "hex", text: hex.EncodeToString([]byte(s))},
		{name: "HEX", text: strings.ToUpper(hex.EncodeToString([]byte(s)))},
		{name: "query-escaped", text: url.QueryEscape(s)},
		{name: "path-escaped", text: url.PathEscape(s)},
	}
	for _, enc := range []struct {
		name string
		enc  *base64.Encoding
	}{{"base64", base64.RawStdEncoding}, {"base64url", base64.RawURLEncoding}} {
		for offset := range 3 {
			candidates = append(candidates, form{name: enc.name, text: base64Core(enc.enc, s, offset)})
		}
	}
	var out []form
	seen := map[string]bool{}
	for _, f := range candidates {
		if f.text == "" || seen[f.text] {
			continue
		}
		seen[f.text] = true
		f.secret = idx
		out = append(out, f)
	}
	return out
}

// base64Core returns the characters of the base64 encoding of s that depend
// only on s when s starts offset bytes into the encoded data: the characters
// mixing in bits of neighbouring bytes are dropped at both ends.
func base64Core(enc *base64.Encoding, s string, offset int) string {
	full := enc.EncodeToString(append(make([]byte, offset), s...))
	head := (offset*8 + 5) / 6 // characters touching the prefix
	tail := 0
	if (offset+len(s))%3 != 0 {
		tail = 1 // the last character is completed by whatever follows
	}
	if head+tail >= len(full) {
		return ""
	}
	return full[head : len(full)-tail]
}

// decodedStrings returns every string key and value in a JSON line, unescaped.
// A line that does not parse gives none.
func decodedStrings(line string) []string {
	var tree any
	if json.Unmarshal([]byte(line), &tree) != nil {
		return nil
	}
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch t := v.(type) {
		case string:
			out = append(out, t)
		case map[string]any:
			for k, x := range t {
				out = append(out, k)
				walk(x)
			}
		case []any:
			for _, x := range t {
				walk(x)
			}
		}
	}
	walk(tree)
	return out
}

func containsAny(texts []string, sub string) bool {
	for _, t := range texts {
		if strings.Contains(t, sub) {
			return true
		}
	}
	return false
}
