// Package returnurl decides where a browser flow may send the user back to
// (OAUTH-3): a path on the app's own origin, or an absolute URL whose origin
// is on an allowlist. Anything a browser might read differently from Go's
// parser is refused rather than repaired.
package returnurl

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// MaxLen bounds an accepted return URL.
const MaxLen = 2048

// ErrRejected is the class of every refusal; the wrapped text says why, for
// logs only.
var ErrRejected = errors.New("return url rejected")

// Policy holds the app's origin and the allowlist. It is immutable and safe
// for concurrent use.
type Policy struct {
	app     string          // scheme://host of the app; relative paths resolve here
	allowed map[string]bool // lower-case origins, the app's included
}

// New returns a Policy for the app at app (an origin, "https://app.example.com")
// that also accepts absolute URLs on the origins in allowed.
func New(app string, allowed []string) (*Policy, error) {
	p := &Policy{allowed: map[string]bool{}}
	for i, o := range append([]string{app}, allowed...) {
		norm, err := origin(o)
		if err != nil {
			return nil, fmt.Errorf("return url policy: origin %q: %w", o, err)
		}
		if i == 0 {
			p.app = norm
		}
		p.allowed[norm] = true
	}
	return p, nil
}

// origin checks that o is exactly scheme://host[:port] over http(s) and
// returns it lower-cased.
func origin(o string) (string, error) {
	u, err := url.Parse(o)
	if err != nil || u.Host == "" || u.User != nil || u.Scheme+"://"+u.Host != o {
		return "", errors.New("not an origin (scheme://host[:port])")
	}
	if s := strings.ToLower(u.Scheme); s != "http" && s != "https" {
		return "", errors.New("scheme must be http or https")
	}
	return strings.ToLower(o), nil
}

// App returns the app's origin.
func (p *Policy) App() string { return p.app }

// Check returns raw as the absolute URL to redirect to, or an error in class
// [ErrRejected]. It accepts a path ("/settings?tab=x") on the app's origin,
// or an absolute http(s) URL on an allowed origin. It refuses: anything
// longer than [MaxLen]; non-ASCII, spaces, control characters and
// backslashes (also once or twice percent-decoded); scheme-relative URLs
// ("//host", "/\host"); "." and ".." path segments (also once or twice
// percent-decoded); userinfo; and every other scheme or form.
func (p *Policy) Check(raw string) (string, error) {
	if raw == "" || len(raw) > MaxLen {
		return "", fmt.Errorf("%w: length %d", ErrRejected, len(raw))
	}
	if err := checkForms(raw); err != nil {
		return "", fmt.Errorf("%w: %w", ErrRejected, err)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("%w: does not parse", ErrRejected)
	}
	if raw[0] == '/' {
		return p.relative(u)
	}
	return p.absolute(raw, u)
}

// relative accepts a path-absolute reference on the app's origin.
func (p *Policy) relative(u *url.URL) (string, error) {
	if u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return "", fmt.Errorf("%w: relative reference with an authority", ErrRejected)
	}
	return p.app + rest(u), nil
}

// absolute accepts an http(s) URL on an allowed origin, without userinfo.
func (p *Policy) absolute(raw string, u *url.URL) (string, error) {
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return "", fmt.Errorf("%w: scheme %q", ErrRejected, u.Scheme)
	}
	if u.User != nil || u.Opaque != "" || u.Host == "" || strings.Contains(authority(raw), "@") {
		return "", fmt.Errorf("%w: userinfo or no host", ErrRejected)
	}
	o := scheme + "://" + strings.ToLower(u.Host)
	if !p.allowed[o] {
		return "", fmt.Errorf("%w: origin %q not allowed", ErrRejected, o)
	}
	if u.Path != "" && u.Path[0] != '/' {
		return "", fmt.Errorf("%w: path not absolute", ErrRejected)
	}
	return o + rest(u), nil
}

// rest returns the path, query and fragment of u, re-encoded.
func rest(u *url.URL) string {
	r := &url.URL{Path: u.Path, RawPath: u.RawPath, RawQuery: u.RawQuery, Fragment: u.Fragment, RawFragment: u.RawFragment}
	s := r.String()
	if s == "" || s[0] != '/' {
		s = "/" + s
	}
	return s
}

// authority returns what follows "scheme://" up to the next /, ? or #.
func authority(raw string) string {
	_, after, ok := strings.Cut(raw, "://")
	if !ok {
		return ""
	}
	if i := strings.IndexAny(after, "/?#"); i >= 0 {
		return after[:i]
	}
	return after
}

// checkForms applies the character and segment rules to raw and to raw
// percent-decoded once and twice: a browser, a proxy or the app may decode
// it again, and a rule that holds only before decoding holds for nothing.
func checkForms(raw string) error {
	form := raw
	for i := range 3 {
		if err := checkChars(form, i == 0); err != nil {
			return err
		}
		if err := checkSegments(form); err != nil {
			return err
		}
		next, err := url.PathUnescape(form)
		if err != nil {
			return errors.New("bad percent-encoding")
		}
		form = next
	}
	return nil
}

// checkChars refuses control characters and backslashes, and in the raw
// form also spaces and non-ASCII bytes (a browser percent-encodes them).
func checkChars(s string, raw bool) error {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c < 0x20 || c == 0x7f:
			return fmt.Errorf("control character 0x%02x", c)
		case c == '\\':
			return errors.New("backslash")
		case raw && (c == ' ' || c >= 0x80):
			return fmt.Errorf("byte 0x%02x must be percent-encoded", c)
		}
	}
	if strings.HasPrefix(s, "//") {
		return errors.New("scheme-relative")
	}
	return nil
}

// checkSegments refuses "." and ".." segments in the path of s.
func checkSegments(s string) error {
	path := s
	if i := strings.IndexAny(path, "?#"); i >= 0 {
		path = path[:i]
	}
	if !strings.HasPrefix(path, "/") {
		if _, after, ok := strings.Cut(path, "://"); ok {
			path = strings.TrimPrefix(after, authority(path))
		}
	}
	for seg := range strings.SplitSeq(path, "/") {
		if seg == "." || seg == ".." {
			return errors.New("dot segment")
		}
	}
	return nil
}
