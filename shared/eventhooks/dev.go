package eventhooks

import (
	"errors"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/config"
)

// DevClient returns the Doer of development: requests to a loopback host
// (a receiver on the developer's machine, which the outbound client
// refuses by design) go through a client that connects to loopback
// addresses only; every other request goes through next, the outbound
// client. Deployed environments use the outbound client alone.
func DevClient(next Doer, timeout time.Duration) Doer {
	dialer := &net.Dialer{Timeout: timeout, Control: loopbackOnly}
	local := &http.Client{
		Timeout:       timeout,
		Transport:     &http.Transport{Proxy: nil, DialContext: dialer.DialContext},
		CheckRedirect: func(*http.Request, []*http.Request) error { return errRedirect },
	}
	return devClient{next: next, local: local}
}

var (
	errRedirect    = errors.New("redirects are not followed")
	errNotLoopback = errors.New("dev loopback client: not a loopback address")
)

type devClient struct {
	next  Doer
	local *http.Client
}

func (c devClient) Do(req *http.Request) (*http.Response, error) {
	if config.IsLoopbackHost(req.URL.Hostname()) {
		return c.local.Do(req)
	}
	return c.next.Do(req)
}

// loopbackOnly refuses every connection but to a loopback address,
// judged on the address dialled.
func loopbackOnly(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil || !ap.Addr().Unmap().IsLoopback() {
		return errNotLoopback
	}
	return nil
}
