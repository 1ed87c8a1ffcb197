// Package testhook carries the test-only allowance from
// [github.com/gatehouse-dev/gatehouse/shared/outbound/outboundtest] to the
// outbound client. It is internal so that nothing outside shared/outbound
// can build an allowance: production code and configuration have no way
// to reach a refused address.
package testhook

import (
	"crypto/x509"
	"net/netip"
)

// Allowance lets a test client reach exactly Addrs (the local test
// servers), over plain http as well, trusting Roots for their TLS
// certificates.
type Allowance struct {
	Addrs []netip.AddrPort
	Roots *x509.CertPool
}

// Allows reports whether ap is one of the allowed test servers. A nil
// allowance allows nothing.
func (a *Allowance) Allows(ap netip.AddrPort) bool {
	if a == nil {
		return false
	}
	for _, x := range a.Addrs {
		if x.Addr().Unmap() == ap.Addr().Unmap() && x.Port() == ap.Port() {
			return true
		}
	}
	return false
}
