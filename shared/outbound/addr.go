package outbound

import (
	"errors"
	"fmt"
	"net/netip"
)

// ErrRefused means the destination address is one outbound requests may
// not reach; the error is an [*AddressError].
var ErrRefused = errors.New("outbound: destination address refused")

// AddressError names a refused destination and why.
type AddressError struct {
	Addr   netip.Addr
	Reason string // e.g. "loopback", "private", "metadata"
}

func (e *AddressError) Error() string {
	return fmt.Sprintf("outbound: refused to connect to %s (%s)", e.Addr, e.Reason)
}

// Is makes errors.Is(err, ErrRefused) true.
func (e *AddressError) Is(target error) bool { return target == ErrRefused }

type deniedRange struct {
	prefix netip.Prefix
	reason string
}

// denied lists what outbound requests never reach, from the IANA IPv4 and
// IPv6 special-purpose address registries plus the cloud metadata
// endpoints. Ranges that embed an IPv4 address (NAT64, 6to4) are handled
// in [Check] by checking the embedded address.
var denied = func() []deniedRange {
	var out []deniedRange
	for _, r := range []struct{ cidr, reason string }{
		{"169.254.169.254/32", "metadata"}, // GCP, AWS, Azure IMDS, OpenStack
		{"168.63.129.16/32", "metadata"},   // Azure wire server
		{"100.100.100.200/32", "metadata"}, // Alibaba Cloud
		{"192.0.0.192/32", "metadata"},     // Oracle Cloud
		{"fd00:ec2::254/128", "metadata"},  // AWS IMDS over IPv6
		{"0.0.0.0/8", "unspecified"},
		{"10.0.0.0/8", "private"},
		{"100.64.0.0/10", "shared address space"},
		{"127.0.0.0/8", "loopback"},
		{"169.254.0.0/16", "link-local"},
		{"172.16.0.0/12", "private"},
		{"192.0.0.0/24", "protocol assignments"},
		{"192.0.2.0/24", "documentation"},
		{"192.88.99.0/24", "6to4 relay"},
		{"192.168.0.0/16", "private"},
		{"198.18.0.0/15", "benchmarking"},
		{"198.51.100.0/24", "documentation"},
		{"203.0.113.0/24", "documentation"},
		{"224.0.0.0/4", "multicast"},
		{"240.0.0.0/4", "reserved"}, // with 255.255.255.255, broadcast
		{"::/96", "unspecified, loopback or IPv4-compatible"},
		{"::ffff:0:0:0/96", "IPv4-translated"},
		{"64:ff9b:1::/48", "local-use NAT64"},
		{"100::/64", "discard-only"},
		{"2001::/32", "Teredo"},
		{"2001:10::/28", "ORCHID"},
		{"2001:20::/28", "ORCHIDv2"},
		{"2001:db8::/32", "documentation"},
		{"3fff::/20", "documentation"},
		{"5f00::/16", "segment routing"},
		{"fc00::/7", "unique local"},
		{"fe80::/10", "link-local"},
		{"fec0::/10", "site-local"},
		{"ff00::/8", "multicast"},
	} {
		out = append(out, deniedRange{netip.MustParsePrefix(r.cidr), r.reason})
	}
	return out
}()

var (
	nat64     = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour = netip.MustParsePrefix("2002::/16")
)

// Check returns nil if outbound requests may connect to a, else an
// [*AddressError]. IPv4-mapped addresses are judged as the IPv4 address
// they carry, and so are the IPv4 addresses embedded in NAT64
// (64:ff9b::/96) and 6to4 (2002::/16) addresses, which reach that IPv4
// address through a translator or relay.
func Check(a netip.Addr) error {
	if !a.IsValid() {
		return &AddressError{Addr: a, Reason: "invalid"}
	}
	a = a.WithZone("").Unmap()
	if a.Is6() {
		if inner, ok := embeddedIPv4(a); ok {
			if err := Check(inner); err != nil {
				return &AddressError{Addr: a, Reason: err.(*AddressError).Reason + " (embedded " + inner.String() + ")"}
			}
			return nil
		}
	}
	for _, d := range denied {
		if d.prefix.Contains(a) {
			return &AddressError{Addr: a, Reason: d.reason}
		}
	}
	return nil
}

// embeddedIPv4 returns the IPv4 address a NAT64 or 6to4 address carries.
func embeddedIPv4(a netip.Addr) (netip.Addr, bool) {
	b := a.As16()
	switch {
	case nat64.Contains(a):
		return netip.AddrFrom4([4]byte(b[12:16])), true
	case sixToFour.Contains(a):
		return netip.AddrFrom4([4]byte(b[2:6])), true
	}
	return netip.Addr{}, false
}
