// Package dnsproof proves that an organization controls a DNS domain: the
// organization publishes a TXT record holding a random token Gatehouse gave
// it, and Gatehouse looks the record up (AUTH-13).
//
// Domain names and TXT values come from tenants and their DNS servers, so
// both are parsed strictly ([NormalizeDomain], [ParseValue]) and fuzzed.
package dnsproof

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/net/idna"
	"golang.org/x/net/publicsuffix"
)

// RecordPrefix is prepended to a domain to name its challenge record, so
// the record never collides with the domain's own TXT records (SPF, other
// services' verifications).
const RecordPrefix = "_gatehouse-challenge."

// valuePrefix starts every challenge value, so an administrator reading
// the zone knows what the record is for.
const valuePrefix = "gatehouse-domain-verification="

// tokenBytes is the entropy of a token: 256 bits, so no one can guess the
// value another organization was given.
const tokenBytes = 32

// Errors.
var (
	// ErrInvalidDomain: not a domain an organization can claim.
	ErrInvalidDomain = errors.New("dnsproof: not a registrable domain name")
	// ErrNotProven: the lookup answered, and no record holds the token
	// (no such name, no TXT record, or other values only).
	ErrNotProven = errors.New("dnsproof: challenge record not found")
	// ErrLookup: the resolver did not answer (timeout, server failure);
	// nothing is known, try again later.
	ErrLookup = errors.New("dnsproof: lookup failed")
)

// NormalizeDomain returns the form in which a domain is claimed, stored and
// compared with an e-mail address's domain: IDNA A-labels (UTS #46 lookup
// mapping, so case and Unicode forms collapse), no trailing dot, at most 253
// bytes, letters, digits and inner hyphens only, at least two labels, under
// a top-level domain of the public suffix list and not itself a public
// suffix (no one can claim "com" or "co.uk"). Errors wrap
// [ErrInvalidDomain].
func NormalizeDomain(s string) (string, error) {
	if len(s) == 0 || len(s) > 253*4 || !utf8.ValidString(s) {
		return "", fmt.Errorf("%w: empty, too long or not UTF-8", ErrInvalidDomain)
	}
	s = strings.TrimSuffix(s, ".")
	a, err := idna.Lookup.ToASCII(s)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrInvalidDomain, err)
	}
	// The result must itself be a name the profile accepts unchanged: an
	// A-label that decodes to nothing valid is refused.
	if again, err := idna.Lookup.ToASCII(a); err != nil || again != a {
		return "", fmt.Errorf("%w: not a stable IDNA name", ErrInvalidDomain)
	}
	if len(a) > 253 {
		return "", fmt.Errorf("%w: longer than 253 bytes", ErrInvalidDomain)
	}
	labels := strings.Split(a, ".")
	if len(labels) < 2 {
		return "", fmt.Errorf("%w: a single label", ErrInvalidDomain)
	}
	for _, l := range labels {
		if !validLabel(l) {
			return "", fmt.Errorf("%w: label %q", ErrInvalidDomain, l)
		}
	}
	if _, icann := publicsuffix.PublicSuffix(labels[len(labels)-1]); !icann {
		return "", fmt.Errorf("%w: unknown top-level domain", ErrInvalidDomain)
	}
	if _, err := publicsuffix.EffectiveTLDPlusOne(a); err != nil {
		return "", fmt.Errorf("%w: a public suffix", ErrInvalidDomain)
	}
	return a, nil
}

// validLabel reports whether l is 1 to 63 letters, digits and hyphens, not
// starting or ending with a hyphen (RFC 1123).
func validLabel(l string) bool {
	if len(l) == 0 || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
		return false
	}
	for i := 0; i < len(l); i++ {
		c := l[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// EmailDomain returns the normalized domain of an e-mail address, or an
// error wrapping [ErrInvalidDomain].
func EmailDomain(email string) (string, error) {
	i := strings.LastIndexByte(email, '@')
	if i < 1 {
		return "", fmt.Errorf("%w: not an e-mail address", ErrInvalidDomain)
	}
	return NormalizeDomain(email[i+1:])
}

// NewToken returns a fresh challenge token: 32 bytes from rand,
// base64url-encoded without padding (43 characters).
func NewToken(rand io.Reader) (string, error) {
	var b [tokenBytes]byte
	if _, err := io.ReadFull(rand, b[:]); err != nil {
		return "", fmt.Errorf("read challenge randomness: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// Challenge is the TXT record that proves a domain.
type Challenge struct {
	Name  string // the record's owner name
	Value string // the record's text
}

// ChallengeFor returns the record to publish for a normalized domain and
// its token.
func ChallengeFor(domain, token string) Challenge {
	return Challenge{Name: RecordPrefix + domain, Value: valuePrefix + token}
}

// ParseValue returns the token of a challenge record's text: the prefix,
// then exactly 43 base64url characters encoding 32 bytes. Surrounding
// spaces are ignored (some DNS consoles add them); anything else is no
// challenge value.
func ParseValue(txt string) (string, bool) {
	tok, ok := strings.CutPrefix(strings.TrimSpace(txt), valuePrefix)
	if !ok || len(tok) != base64.RawURLEncoding.EncodedLen(tokenBytes) {
		return "", false
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(tok)
	if err != nil || len(b) != tokenBytes {
		return "", false
	}
	return tok, true
}

// Resolver looks challenge records up.
type Resolver struct {
	r       *net.Resolver
	timeout time.Duration
}

// NewResolver returns a Resolver that asks the server at addr (host:port,
// or an IP address for port 53), or the system's resolver when addr is "".
func NewResolver(addr string) (*Resolver, error) {
	if addr == "" {
		return &Resolver{r: net.DefaultResolver, timeout: 10 * time.Second}, nil
	}
	server, err := ResolverAddr(addr)
	if err != nil {
		return nil, err
	}
	var d net.Dialer
	r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return d.DialContext(ctx, network, server)
	}}
	return &Resolver{r: r, timeout: 10 * time.Second}, nil
}

// ResolverAddr checks a resolver address, IP:port or a bare IP (port 53),
// and returns it as IP:port.
func ResolverAddr(addr string) (string, error) {
	if ip := net.ParseIP(addr); ip != nil {
		return net.JoinHostPort(addr, "53"), nil
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil || net.ParseIP(host) == nil || port == "" {
		return "", fmt.Errorf("dnsproof: resolver %q is not IP:port", addr)
	}
	return addr, nil
}

// Verify looks up the challenge record of domain and returns nil if one of
// its TXT values holds token. Errors: [ErrNotProven] when the answer has no
// such value (the name does not exist, has no TXT record, or holds other
// values), [ErrLookup] when the resolver did not answer.
func (r *Resolver) Verify(ctx context.Context, domain, token string) error {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	values, err := r.r.LookupTXT(ctx, RecordPrefix+domain)
	var dnsErr *net.DNSError
	switch {
	case errors.As(err, &dnsErr) && dnsErr.IsNotFound:
		return fmt.Errorf("%w: %s has no TXT record", ErrNotProven, RecordPrefix+domain)
	case err != nil:
		return fmt.Errorf("%w: %s: %v", ErrLookup, RecordPrefix+domain, err)
	}
	for _, v := range values {
		if got, ok := ParseValue(v); ok && subtle.ConstantTimeCompare([]byte(got), []byte(token)) == 1 {
			return nil
		}
	}
	return fmt.Errorf("%w: %s holds %d other values", ErrNotProven, RecordPrefix+domain, len(values))
}
