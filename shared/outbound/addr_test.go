package outbound

import (
	"errors"
	"net/netip"
	"testing"
)

// Every special-purpose address is refused, in each of its spellings:
// IPv4, IPv4-mapped, IPv4-compatible, NAT64 and 6to4; public unicast
// addresses (and NAT64 or 6to4 forms of them) are allowed.
//
// Controls: APP-7
func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		addr   string
		reason string // "" means allowed
	}{
		{"127.0.0.1", "loopback"},
		{"127.255.255.254", "loopback"},
		{"::1", "unspecified, loopback or IPv4-compatible"},
		{"::ffff:127.0.0.1", "loopback"},
		{"::127.0.0.1", "unspecified, loopback or IPv4-compatible"},
		{"0.0.0.0", "unspecified"},
		{"::", "unspecified, loopback or IPv4-compatible"},
		{"10.1.2.3", "private"},
		{"172.16.0.1", "private"},
		{"172.31.255.255", "private"},
		{"192.168.1.1", "private"},
		{"::ffff:192.168.1.1", "private"},
		{"::ffff:10.0.0.1", "private"},
		{"100.64.0.1", "shared address space"},
		{"100.127.255.255", "shared address space"},
		{"169.254.169.254", "metadata"},
		{"::ffff:169.254.169.254", "metadata"},
		{"::ffff:a9fe:a9fe", "metadata"},
		{"64:ff9b::a9fe:a9fe", "metadata (embedded 169.254.169.254)"},
		{"64:ff9b::7f00:1", "loopback (embedded 127.0.0.1)"},
		{"64:ff9b::c0a8:101", "private (embedded 192.168.1.1)"},
		{"64:ff9b:1::1", "local-use NAT64"},
		{"2002:7f00:1::1", "loopback (embedded 127.0.0.1)"},
		{"2002:a9fe:a9fe::", "metadata (embedded 169.254.169.254)"},
		{"2001:0:4136:e378:8000:63bf:3fff:fdd2", "Teredo"},
		{"fd00:ec2::254", "metadata"},
		{"100.100.100.200", "metadata"},
		{"168.63.129.16", "metadata"},
		{"192.0.0.192", "metadata"},
		{"169.254.1.1", "link-local"},
		{"fe80::1", "link-local"},
		{"fe80::1%eth0", "link-local"},
		{"fec0::1", "site-local"},
		{"fc00::1", "unique local"},
		{"fd12:3456::1", "unique local"},
		{"224.0.0.1", "multicast"},
		{"239.255.255.250", "multicast"},
		{"ff02::1", "multicast"},
		{"255.255.255.255", "reserved"},
		{"240.0.0.1", "reserved"},
		{"192.0.2.1", "documentation"},
		{"2001:db8::1", "documentation"},
		{"198.18.0.1", "benchmarking"},
		{"8.8.8.8", ""},
		{"1.1.1.1", ""},
		{"172.32.0.1", ""},
		{"100.128.0.1", ""},
		{"2606:4700:4700::1111", ""},
		{"::ffff:8.8.8.8", ""},
		{"64:ff9b::808:808", ""},
		{"2002:808:808::1", ""},
	} {
		err := Check(netip.MustParseAddr(tc.addr))
		var ae *AddressError
		switch {
		case tc.reason == "" && err != nil:
			t.Errorf("%s refused: %v", tc.addr, err)
		case tc.reason != "" && (!errors.As(err, &ae) || ae.Reason != tc.reason || !errors.Is(err, ErrRefused)):
			t.Errorf("%s: %v, want refused as %q", tc.addr, err, tc.reason)
		}
	}
	if Check(netip.Addr{}) == nil {
		t.Error("the zero address was allowed")
	}
}

// Check never panics and never allows an address whose IPv4 form is
// refused, whatever 16 bytes it is given.
func FuzzCheck(f *testing.F) {
	for _, s := range []string{"::ffff:127.0.0.1", "64:ff9b::a9fe:a9fe", "2002:7f00:1::1", "2606:4700::1"} {
		b := netip.MustParseAddr(s).As16()
		f.Add(b[:])
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) != 16 {
			return
		}
		a := netip.AddrFrom16([16]byte(b))
		err := Check(a)
		if a.Is4In6() && (Check(a.Unmap()) == nil) != (err == nil) {
			t.Fatalf("%s and its IPv4 form judged differently: %v", a, err)
		}
	})
}
