package web

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"
)

// ClientIP returns the address of the client that sent r.
//
// Each trusted proxy in front of the service appends the address it received
// the request from to X-Forwarded-For; Cloud Run's front end is one such hop,
// and a Google Cloud load balancer in front of it adds a second. With
// trustedHops N > 0, the client is therefore the Nth entry from the right
// (counting across repeated headers, in order); anything further left was
// written by the client and is ignored. If trustedHops <= 0, or the header
// has fewer than N entries, or that entry is not an IP address, ClientIP
// falls back to r.RemoteAddr. It returns the zero Addr (not IsValid) if
// nothing parses; callers must treat that as one shared, unknown client.
//
// IPv4-mapped IPv6 addresses are unmapped and zones dropped, so one client
// always gives one Addr.
func ClientIP(r *http.Request, trustedHops int) netip.Addr {
	if trustedHops > 0 {
		if entry, ok := nthFromRight(r.Header.Values("X-Forwarded-For"), trustedHops); ok {
			if a, ok := parseHostAddr(entry); ok {
				return a
			}
		}
	}
	a, _ := parseHostAddr(r.RemoteAddr)
	return a
}

// ClientIPRule says in words where [ClientIP] finds the client with
// trustedHops, for the start log.
func ClientIPRule(trustedHops int) string {
	if trustedHops <= 0 {
		return "the connection's peer address; X-Forwarded-For is ignored"
	}
	return fmt.Sprintf("entry %d from the right of X-Forwarded-For (%d trusted proxies), else the peer address",
		trustedHops, trustedHops)
}

// nthFromRight returns the nth (1-based) comma-separated entry from the
// right across values, which are joined in order.
func nthFromRight(values []string, n int) (string, bool) {
	for i := len(values) - 1; i >= 0; i-- {
		v := values[i]
		for {
			comma := strings.LastIndexByte(v, ',')
			n--
			if n == 0 {
				return v[comma+1:], true
			}
			if comma < 0 {
				break
			}
			v = v[:comma]
		}
	}
	return "", false
}

// parseHostAddr parses "ip", "ip:port", "[ip]" or "[ip]:port", with optional
// surrounding spaces.
func parseHostAddr(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	a, err := netip.ParseAddr(s)
	if err != nil {
		ap, perr := netip.ParseAddrPort(s)
		if perr == nil {
			a, err = ap.Addr(), nil
		} else if inner, ok := strings.CutPrefix(s, "["); ok && strings.HasSuffix(inner, "]") {
			a, err = netip.ParseAddr(strings.TrimSuffix(inner, "]"))
		}
	}
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap().WithZone(""), true
}

// Network returns the network addr belongs to for rate limiting and
// new-network detection: its /24 for IPv4 (including IPv4-mapped IPv6), its
// /48 for IPv6. It returns the zero Prefix for the zero Addr.
func Network(addr netip.Addr) netip.Prefix {
	addr = addr.Unmap().WithZone("")
	bits := 48
	switch {
	case !addr.IsValid():
		return netip.Prefix{}
	case addr.Is4():
		bits = 24
	}
	p, err := addr.Prefix(bits)
	if err != nil {
		return netip.Prefix{}
	}
	return p
}
