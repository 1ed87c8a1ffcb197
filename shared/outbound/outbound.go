// Package outbound is the one HTTP client for requests to hosts that a
// tenant or a provider controls (APP-7): OIDC discovery and keys, token,
// userinfo and revocation endpoints, platform APIs, and outbound webhooks.
//
// A [Client] connects only to addresses [Check] allows, judged on the
// address actually dialled, after DNS resolution, so a name that resolves
// (or re-resolves) to a private address is refused at connect time. It
// follows no redirects, speaks only https, bounds the whole exchange in
// time and the response body in size, and ignores proxy settings from the
// environment (a proxy would make the dialled address the proxy's).
//
// Tests reach their local servers only through
// [github.com/gatehouse-dev/gatehouse/shared/outbound/outboundtest]; there
// is no option or setting that lets production code do so.
package outbound

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"

	"golang.org/x/oauth2"

	"github.com/gatehouse-dev/gatehouse/shared/outbound/internal/testhook"
)

// Defaults of [Options].
const (
	DefaultTimeout     = 10 * time.Second
	DefaultMaxResponse = 1 << 20
)

var (
	// ErrScheme means the URL is not https.
	ErrScheme = errors.New("outbound: only https URLs may be requested")
	// ErrRedirect means the server answered with a redirect, which is not
	// followed.
	ErrRedirect = errors.New("outbound: redirects are not followed")
	// ErrTooLarge means the response body exceeded the client's bound.
	ErrTooLarge = errors.New("outbound: response body too large")
	// ErrBadURL means the URL cannot be requested at all (no host, user
	// information, a refused host name).
	ErrBadURL = errors.New("outbound: unusable URL")
)

// Options configure [New]. The zero value is the production client.
type Options struct {
	// Timeout bounds a whole exchange, from dialling to the last byte of
	// the body (default [DefaultTimeout]).
	Timeout time.Duration
	// MaxResponse bounds the response body in bytes, after any transfer
	// decompression (default [DefaultMaxResponse]). Reading past it fails
	// with [ErrTooLarge].
	MaxResponse int64
	// Resolver resolves host names (default the system resolver). The
	// address it returns is still checked before connecting.
	Resolver *net.Resolver
	// Test is the allowance of outboundtest; nothing else can build one.
	Test *testhook.Allowance
}

// Client is the guarded HTTP client. It is safe for concurrent use.
type Client struct {
	http  *http.Client
	test  *testhook.Allowance
	limit int64
}

// New returns a client with o's bounds.
func New(o Options) *Client {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxResponse <= 0 {
		o.MaxResponse = DefaultMaxResponse
	}
	c := &Client{test: o.Test, limit: o.MaxResponse}
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second, Resolver: o.Resolver, Control: c.control}
	tr := &http.Transport{
		Proxy:                  nil,
		DialContext:            dialer.DialContext,
		ForceAttemptHTTP2:      true,
		TLSHandshakeTimeout:    5 * time.Second,
		ResponseHeaderTimeout:  o.Timeout,
		MaxResponseHeaderBytes: 64 << 10,
		MaxIdleConns:           100,
		IdleConnTimeout:        90 * time.Second,
		TLSClientConfig:        &tls.Config{MinVersion: tls.VersionTLS12},
	}
	if o.Test != nil && o.Test.Roots != nil {
		tr.TLSClientConfig.RootCAs = o.Test.Roots
	}
	c.http = &http.Client{
		Transport: &guard{next: tr, c: c},
		Timeout:   o.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return ErrRedirect
		},
	}
	return c
}

// Do sends req. Errors wrap [ErrRefused], [ErrScheme], [ErrRedirect] or
// the transport's error; reading the body can fail with [ErrTooLarge].
func (c *Client) Do(req *http.Request) (*http.Response, error) {
	return c.http.Do(req)
}

// HTTP returns the guarded *http.Client, for libraries that take one. Every
// rule of the package holds for it.
func (c *Client) HTTP() *http.Client { return c.http }

// WithTransport returns a copy of c whose requests go through
// wrap(transport) (telemetry: a span per call). The guard stays innermost,
// so every rule of the package still holds for the copy.
func (c *Client) WithTransport(wrap func(http.RoundTripper) http.RoundTripper) *Client {
	cp := *c
	h := *c.http
	h.Transport = wrap(h.Transport)
	cp.http = &h
	return &cp
}

// Context returns ctx carrying the guarded client the way golang.org/x/oauth2
// and github.com/coreos/go-oidc look for one.
func (c *Client) Context(ctx context.Context) context.Context {
	return context.WithValue(ctx, oauth2.HTTPClient, c.http)
}

// CheckURL parses raw and returns it if the client may request it: https
// (plain http only for a test allowance), a host, no user information, and
// not a literal address or name (localhost) that [Check] would refuse. A
// host name is not resolved here: the address is checked when dialling.
func (c *Client) CheckURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadURL, err)
	}
	if err := c.checkScheme(u); err != nil {
		return nil, err
	}
	host := u.Hostname()
	if host == "" || u.User != nil {
		return nil, fmt.Errorf("%w: no host, or user information", ErrBadURL)
	}
	if h := strings.ToLower(strings.TrimSuffix(host, ".")); h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return nil, &AddressError{Addr: netip.IPv6Loopback(), Reason: "loopback name " + h}
	}
	if a, err := netip.ParseAddr(host); err == nil {
		if err := c.allowed(netip.AddrPortFrom(a, portOf(u))); err != nil {
			return nil, err
		}
	}
	return u, nil
}

func portOf(u *url.URL) uint16 {
	p := u.Port()
	if p == "" {
		if u.Scheme == "http" {
			return 80
		}
		return 443
	}
	var n uint16
	_, _ = fmt.Sscan(p, &n)
	return n
}

func (c *Client) checkScheme(u *url.URL) error {
	if u.Scheme == "https" || u.Scheme == "http" && c.test != nil {
		return nil
	}
	return fmt.Errorf("%w: %q", ErrScheme, u.Scheme)
}

// allowed applies [Check], except to the test allowance's servers.
func (c *Client) allowed(ap netip.AddrPort) error {
	if c.test.Allows(ap) {
		return nil
	}
	return Check(ap.Addr())
}

// control runs on every connection attempt with the resolved address,
// before the connection is made.
func (c *Client) control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: unparsable address %q", ErrRefused, address)
	}
	return c.allowed(ap)
}

// guard checks each request's scheme and bounds each response body.
type guard struct {
	next http.RoundTripper
	c    *Client
}

func (g *guard) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := g.c.checkScheme(req.URL); err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	resp, err := g.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if resp.ContentLength > g.c.limit {
		resp.Body.Close()
		return nil, fmt.Errorf("%w: %d bytes announced", ErrTooLarge, resp.ContentLength)
	}
	resp.Body = &boundedBody{rc: resp.Body, left: g.c.limit}
	return resp, nil
}

// boundedBody fails with ErrTooLarge once more than its bound is read,
// rather than truncating silently (a truncated document can still parse).
type boundedBody struct {
	rc   io.ReadCloser
	left int64
}

func (b *boundedBody) Read(p []byte) (int, error) {
	if b.left < 0 {
		return 0, ErrTooLarge
	}
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	if b.left < 0 {
		return n - int(-b.left), ErrTooLarge
	}
	return n, err
}

func (b *boundedBody) Close() error { return b.rc.Close() }

// IsTimeout reports whether err is a timeout of the exchange.
func IsTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout() || errors.Is(err, context.DeadlineExceeded)
}
