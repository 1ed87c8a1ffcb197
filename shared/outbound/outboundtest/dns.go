package outboundtest

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"

	"golang.org/x/net/dns/dnsmessage"
)

// Resolver returns a resolver that asks an in-process DNS server, which
// answers A and AAAA queries with answer(name) (name without the final
// dot, lower case) and NXDOMAIN when answer returns false. It lets a test
// point a host name at any address, as a DNS rebinding attacker does.
func Resolver(t testing.TB, answer func(name string) (netip.Addr, bool)) *net.Resolver {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("outboundtest: dns listener: %v", err)
	}
	t.Cleanup(func() { pc.Close() })
	go serveDNS(pc, answer)
	server := pc.LocalAddr().String()
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", server)
	}}
}

func serveDNS(pc net.PacketConn, answer func(string) (netip.Addr, bool)) {
	buf := make([]byte, 1500)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			return
		}
		if msg, ok := dnsAnswer(buf[:n], answer); ok {
			_, _ = pc.WriteTo(msg, from)
		}
	}
}

func dnsAnswer(query []byte, answer func(string) (netip.Addr, bool)) ([]byte, bool) {
	var p dnsmessage.Parser
	h, err := p.Start(query)
	if err != nil {
		return nil, false
	}
	q, err := p.Question()
	if err != nil {
		return nil, false
	}
	a, found := answer(strings.ToLower(strings.TrimSuffix(q.Name.String(), ".")))
	rh := dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RecursionDesired: h.RecursionDesired}
	if !found {
		rh.RCode = dnsmessage.RCodeNameError
	}
	b := dnsmessage.NewBuilder(nil, rh)
	if b.StartQuestions() != nil || b.Question(q) != nil || b.StartAnswers() != nil {
		return nil, false
	}
	res := dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 0}
	switch {
	case found && q.Type == dnsmessage.TypeA && a.Is4():
		err = b.AResource(res, dnsmessage.AResource{A: a.As4()})
	case found && q.Type == dnsmessage.TypeAAAA && a.Is6():
		err = b.AAAAResource(res, dnsmessage.AAAAResource{AAAA: a.As16()})
	}
	if err != nil {
		return nil, false
	}
	msg, err := b.Finish()
	return msg, err == nil
}
