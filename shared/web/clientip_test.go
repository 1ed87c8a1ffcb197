package web_test

import (
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/shared/web"
)

// Controls: APP-6
func TestClientIP(t *testing.T) {
	tests := []struct {
		name   string
		xff    []string
		remote string
		hops   int
		want   string // "" for the zero Addr
	}{
		{name: "cloud run single hop", xff: []string{"203.0.113.7"}, remote: "169.254.1.1:3000", hops: 1, want: "203.0.113.7"},
		{name: "spoofed entries ignored", xff: []string{"1.1.1.1, 2.2.2.2, 203.0.113.7"}, remote: "169.254.1.1:3000", hops: 1, want: "203.0.113.7"},
		{name: "load balancer two hops", xff: []string{"9.9.9.9, 203.0.113.7, 130.211.0.1"}, remote: "169.254.1.1:3000", hops: 2, want: "203.0.113.7"},
		{name: "repeated headers joined in order", xff: []string{"9.9.9.9", "203.0.113.7, 130.211.0.1"}, hops: 2, remote: "10.0.0.1:1", want: "203.0.113.7"},
		{name: "second header last", xff: []string{"1.1.1.1", "203.0.113.7"}, hops: 1, remote: "10.0.0.1:1", want: "203.0.113.7"},
		{name: "no spaces", xff: []string{"1.1.1.1,203.0.113.7"}, hops: 1, remote: "10.0.0.1:1", want: "203.0.113.7"},
		{name: "ipv6", xff: []string{"2001:db8::1"}, hops: 1, remote: "10.0.0.1:1", want: "2001:db8::1"},
		{name: "ipv6 bracketed with port", xff: []string{"[2001:db8::1]:443"}, hops: 1, remote: "10.0.0.1:1", want: "2001:db8::1"},
		{name: "ipv6 bracketed", xff: []string{"[2001:db8::1]"}, hops: 1, remote: "10.0.0.1:1", want: "2001:db8::1"},
		{name: "ipv4 with port", xff: []string{"203.0.113.7:5555"}, hops: 1, remote: "10.0.0.1:1", want: "203.0.113.7"},
		{name: "mapped ipv4 unmapped", xff: []string{"::ffff:203.0.113.7"}, hops: 1, remote: "10.0.0.1:1", want: "203.0.113.7"},
		{name: "zone dropped", xff: []string{"fe80::1%eth0"}, hops: 1, remote: "10.0.0.1:1", want: "fe80::1"},
		{name: "too few entries falls back", xff: []string{"203.0.113.7"}, hops: 2, remote: "10.0.0.1:1", want: "10.0.0.1"},
		{name: "garbage entry falls back", xff: []string{"1.1.1.1, not-an-ip"}, hops: 1, remote: "10.0.0.1:1", want: "10.0.0.1"},
		{name: "empty entry falls back", xff: []string{"1.1.1.1,"}, hops: 1, remote: "10.0.0.1:1", want: "10.0.0.1"},
		{name: "hops zero ignores header", xff: []string{"203.0.113.7"}, hops: 0, remote: "10.0.0.1:1", want: "10.0.0.1"},
		{name: "negative hops ignores header", xff: []string{"203.0.113.7"}, hops: -1, remote: "10.0.0.1:1", want: "10.0.0.1"},
		{name: "no header", hops: 1, remote: "[2001:db8::5]:80", want: "2001:db8::5"},
		{name: "remote without port", hops: 1, remote: "10.0.0.9", want: "10.0.0.9"},
		{name: "nothing parses", xff: []string{"x"}, hops: 1, remote: "pipe", want: ""},
		{name: "huge hops", xff: []string{"1.1.1.1"}, hops: 1 << 30, remote: "10.0.0.1:1", want: "10.0.0.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tt.remote
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			got := web.ClientIP(r, tt.hops)
			if tt.want == "" {
				if got.IsValid() {
					t.Errorf("ClientIP = %v, want zero Addr", got)
				}
				return
			}
			if got != netip.MustParseAddr(tt.want) {
				t.Errorf("ClientIP = %v, want %s", got, tt.want)
			}
		})
	}
}

func TestNetwork(t *testing.T) {
	tests := []struct {
		name string
		addr netip.Addr
		want string // "" for the zero Prefix
	}{
		{name: "ipv4 /24", addr: netip.MustParseAddr("203.0.113.77"), want: "203.0.113.0/24"},
		{name: "mapped ipv4 /24", addr: netip.MustParseAddr("::ffff:203.0.113.77"), want: "203.0.113.0/24"},
		{name: "ipv6 /48", addr: netip.MustParseAddr("2001:db8:abcd:1234::1"), want: "2001:db8:abcd::/48"},
		{name: "ipv6 zone ignored", addr: netip.MustParseAddr("fe80::1%eth0"), want: "fe80::/48"},
		{name: "zero", addr: netip.Addr{}, want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := web.Network(tt.addr)
			if tt.want == "" {
				if got.IsValid() {
					t.Errorf("Network = %v, want zero Prefix", got)
				}
				return
			}
			if got != netip.MustParsePrefix(tt.want) {
				t.Errorf("Network(%v) = %v, want %s", tt.addr, got, tt.want)
			}
		})
	}
}

// Controls: APP-6
func FuzzClientIP(f *testing.F) {
	f.Add("1.1.1.1, 203.0.113.7", "10.0.0.1:1", 1)
	f.Add("[2001:db8::1]:443,,", "[::1]:80", 2)
	f.Add(",,,", "", 3)
	f.Add("::ffff:1.2.3.4%x", "garbage", 1)
	f.Add("1.1.1.1", "1.2.3.4", -5)
	f.Fuzz(func(t *testing.T, xff, remote string, hops int) {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = remote
		for _, v := range strings.Split(xff, "\n") {
			r.Header.Add("X-Forwarded-For", v)
		}
		a := web.ClientIP(r, hops)
		if !a.IsValid() {
			return
		}
		if a.Zone() != "" || a.Is4In6() {
			t.Fatalf("ClientIP = %v: zone or mapped address not normalised", a)
		}
		if a.Is4() && !strings.Contains(xff+remote, a.String()) {
			t.Fatalf("ClientIP = %v not taken from the input", a)
		}
		if p := web.Network(a); !p.IsValid() || !p.Contains(a) {
			t.Fatalf("Network(%v) = %v", a, p)
		}
	})
}
