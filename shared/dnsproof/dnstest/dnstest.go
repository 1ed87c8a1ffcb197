// Package dnstest is an in-process authoritative DNS server for tests
// (github.com/miekg/dns over UDP and TCP on loopback): tests publish and
// remove TXT records and point a [dnsproof.Resolver] (or
// GATEHOUSE_DNS_RESOLVER) at [Server.Addr].
package dnstest

import (
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/miekg/dns"
)

// Server answers TXT queries from its records: NXDOMAIN for an unknown
// name, SERVFAIL for a broken name and for every query while failing.
type Server struct {
	// Addr is the server's address, 127.0.0.1:port, on UDP and TCP.
	Addr string

	mu      sync.Mutex
	txt     map[string][]string // by lower-case fully qualified name
	broken  map[string]bool     // names answered with SERVFAIL
	failing bool
	queries int
}

// New starts a server for the rest of t.
func New(t testing.TB) *Server {
	t.Helper()
	s := &Server{txt: map[string][]string{}, broken: map[string]bool{}}
	pc, ln, err := listenBoth()
	if err != nil {
		t.Fatal(err)
	}
	s.Addr = pc.LocalAddr().String()
	for _, srv := range []*dns.Server{{PacketConn: pc, Handler: s}, {Listener: ln, Handler: s}} {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		go srv.ActivateAndServe()
		<-started
		t.Cleanup(func() { srv.Shutdown() })
	}
	return s
}

// SetTXT makes name (with or without the final dot) hold exactly values.
func (s *Server) SetTXT(name string, values ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.txt[dns.Fqdn(strings.ToLower(name))] = values
}

// Remove deletes name.
func (s *Server) Remove(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.txt, dns.Fqdn(strings.ToLower(name)))
}

// Fail makes the server answer SERVFAIL (true) or answer again (false).
func (s *Server) Fail(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failing = on
}

// Break makes the server answer SERVFAIL for name only, as a zone whose
// name servers are gone does.
func (s *Server) Break(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.broken[dns.Fqdn(strings.ToLower(name))] = true
}

// Queries returns how many queries the server answered.
func (s *Server) Queries() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.queries
}

// ServeDNS implements dns.Handler.
func (s *Server) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(req)
	m.Authoritative = true
	s.mu.Lock()
	s.queries++
	failing := s.failing
	var values []string
	var found bool
	if len(req.Question) == 1 {
		name := strings.ToLower(req.Question[0].Name)
		values, found = s.txt[name]
		failing = failing || s.broken[name]
	}
	s.mu.Unlock()
	switch {
	case failing || len(req.Question) != 1:
		m.Rcode = dns.RcodeServerFailure
	case !found:
		m.Rcode = dns.RcodeNameError
	case req.Question[0].Qtype == dns.TypeTXT:
		q := req.Question[0]
		for _, v := range values {
			m.Answer = append(m.Answer, &dns.TXT{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeTXT,
				Class: dns.ClassINET, Ttl: 60}, Txt: chunks(v)})
		}
	}
	if w.LocalAddr().Network() == "udp" {
		// Too big for the client's UDP buffer: truncate and set TC, and
		// the client asks again over TCP.
		size := dns.MinMsgSize
		if opt := req.IsEdns0(); opt != nil {
			size = int(opt.UDPSize())
			m.SetEdns0(opt.UDPSize(), false)
		}
		m.Truncate(size)
	}
	w.WriteMsg(m)
}

// chunks splits v into the 255-byte character strings a TXT record is
// made of; resolvers join them back.
func chunks(v string) []string {
	var out []string
	for len(v) > 255 {
		out = append(out, v[:255])
		v = v[255:]
	}
	return append(out, v)
}

// listenBoth binds UDP and TCP on one free port of 127.0.0.1. The UDP
// port the system picks may be taken on TCP by another process, so it
// tries again with another port rather than fail.
func listenBoth() (net.PacketConn, net.Listener, error) {
	var err error
	for range 20 {
		var pc net.PacketConn
		if pc, err = net.ListenPacket("udp", "127.0.0.1:0"); err != nil {
			return nil, nil, err
		}
		var ln net.Listener
		if ln, err = net.Listen("tcp", pc.LocalAddr().String()); err == nil {
			return pc, ln, nil
		}
		pc.Close()
	}
	return nil, nil, err
}
