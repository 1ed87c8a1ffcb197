// Package outboundtest builds outbound clients for tests: the only way to
// let an [outbound.Client] reach local test servers. It takes a
// testing.TB so that it cannot be called outside a test, and the outbound
// package's tests check that no non-test package imports it.
package outboundtest

import (
	"crypto/x509"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/gatehouse-dev/gatehouse/shared/outbound"
	"github.com/gatehouse-dev/gatehouse/shared/outbound/internal/testhook"
)

// Client returns a client that may reach exactly servers (over http, or
// https trusting their certificates), and nothing else the production
// client refuses.
func Client(t testing.TB, servers ...*httptest.Server) *outbound.Client {
	return New(t, outbound.Options{}, servers...)
}

// New is [Client] with o's other settings (timeout, size bound, resolver).
func New(t testing.TB, o outbound.Options, servers ...*httptest.Server) *outbound.Client {
	t.Helper()
	a := &testhook.Allowance{Roots: x509.NewCertPool()}
	for _, s := range servers {
		ap, err := netip.ParseAddrPort(s.Listener.Addr().String())
		if err != nil {
			t.Fatalf("outboundtest: server address %q: %v", s.Listener.Addr(), err)
		}
		a.Addrs = append(a.Addrs, ap)
		if c := s.Certificate(); c != nil {
			a.Roots.AddCert(c)
		}
	}
	o.Test = a
	return outbound.New(o)
}
