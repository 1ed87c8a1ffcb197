package outbound_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/outbound"
	"github.com/gatehouse-dev/gatehouse/shared/outbound/outboundtest"
)

// counting is a test server that counts the requests it was sent.
type counting struct {
	*httptest.Server
	hits atomic.Int64
}

func newCounting(t *testing.T, tls bool, h http.HandlerFunc) *counting {
	c := &counting{}
	wrapped := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.hits.Add(1)
		h(w, r)
	})
	if tls {
		c.Server = httptest.NewTLSServer(wrapped)
	} else {
		c.Server = httptest.NewServer(wrapped)
	}
	t.Cleanup(c.Close)
	return c
}

func ok(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") }

func get(ctx context.Context, c *outbound.Client, u string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", err
	}
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// The production client reaches no local server: plain http is refused
// before any connection, https to a loopback address at connect time.
//
// Controls: APP-7
func TestProductionClientRefusesLocalServers(t *testing.T) {
	plain := newCounting(t, false, ok)
	secure := newCounting(t, true, ok)
	c := outbound.New(outbound.Options{})
	if _, err := get(context.Background(), c, plain.URL); !errors.Is(err, outbound.ErrScheme) {
		t.Fatalf("http: %v, want ErrScheme", err)
	}
	if _, err := get(context.Background(), c, secure.URL); !errors.Is(err, outbound.ErrRefused) {
		t.Fatalf("https loopback: %v, want ErrRefused", err)
	}
	for _, raw := range []string{"https://169.254.169.254/computeMetadata/v1/", "https://[::ffff:127.0.0.1]:443/",
		"https://[fd00:ec2::254]/latest/meta-data/", "https://10.0.0.1/", "https://0.0.0.0/"} {
		if _, err := get(context.Background(), c, raw); !errors.Is(err, outbound.ErrRefused) {
			t.Errorf("%s: %v, want ErrRefused", raw, err)
		}
		if _, err := c.CheckURL(raw); !errors.Is(err, outbound.ErrRefused) {
			t.Errorf("CheckURL(%s): %v, want ErrRefused", raw, err)
		}
	}
	for _, raw := range []string{"https://localhost/", "https://a.localhost./", "http://idp.example.com/",
		"ftp://idp.example.com/", "https://user:pw@idp.example.com/", "https:///x"} {
		if _, err := c.CheckURL(raw); err == nil {
			t.Errorf("CheckURL(%s) accepted", raw)
		}
	}
	if _, err := c.CheckURL("https://idp.example.com/tenant"); err != nil {
		t.Errorf("public https URL refused: %v", err)
	}
	if n := plain.hits.Load() + secure.hits.Load(); n != 0 {
		t.Fatalf("local servers were sent %d requests", n)
	}
}

// The test allowance admits exactly the servers it names: another server
// on the same loopback address is still refused.
//
// Controls: APP-7
func TestAllowanceNamesExactServers(t *testing.T) {
	allowed := newCounting(t, false, ok)
	other := newCounting(t, true, ok)
	c := outboundtest.Client(t, allowed.Server)
	if body, err := get(context.Background(), c, allowed.URL); err != nil || body != "ok" {
		t.Fatalf("allowed server: %q, %v", body, err)
	}
	if _, err := get(context.Background(), c, other.URL); !errors.Is(err, outbound.ErrRefused) {
		t.Fatalf("other local server: %v, want ErrRefused", err)
	}
	if other.hits.Load() != 0 {
		t.Fatal("the other server was reached")
	}
}

// A redirect is never followed, not even to an allowed server: an https
// server answering 302 to an internal http address gets no request
// through.
//
// Controls: APP-7
func TestNoRedirects(t *testing.T) {
	internal := newCounting(t, false, ok)
	redirector := newCounting(t, true, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, internal.URL+"/computeMetadata/v1/", http.StatusFound)
	})
	c := outboundtest.Client(t, redirector.Server, internal.Server)
	if _, err := get(context.Background(), c, redirector.URL); !errors.Is(err, outbound.ErrRedirect) {
		t.Fatalf("redirect: %v, want ErrRedirect", err)
	}
	if internal.hits.Load() != 0 {
		t.Fatal("the redirect was followed")
	}
}

// A name that resolves to a refused address is refused when dialling, on
// the address actually resolved: DNS rebinding cannot pass a check made
// on an earlier answer, because there is no earlier check to pass.
//
// Controls: APP-7
func TestRefusesNamesResolvingToRefusedAddresses(t *testing.T) {
	internal := newCounting(t, true, ok)
	port := ":" + strconv.Itoa(internal.Listener.Addr().(*net.TCPAddr).Port)
	var queries atomic.Int64
	resolver := outboundtest.Resolver(t, func(name string) (netip.Addr, bool) {
		queries.Add(1)
		switch name {
		case "rebind.example.com":
			return netip.MustParseAddr("127.0.0.1"), true
		case "metadata.example.com":
			return netip.MustParseAddr("169.254.169.254"), true
		case "mapped.example.com":
			return netip.MustParseAddr("::ffff:127.0.0.1"), true
		}
		return netip.Addr{}, false
	})
	c := outboundtest.New(t, outbound.Options{Resolver: resolver, Timeout: 5 * time.Second})
	prod := outbound.New(outbound.Options{Resolver: resolver, Timeout: 5 * time.Second})
	for _, client := range []*outbound.Client{c, prod} {
		for _, host := range []string{"rebind.example.com", "metadata.example.com", "mapped.example.com"} {
			if _, err := client.CheckURL("https://" + host + port + "/"); err != nil {
				t.Fatalf("CheckURL resolved %s: %v", host, err) // names are judged when dialling
			}
			if _, err := get(context.Background(), client, "https://"+host+port+"/"); !errors.Is(err, outbound.ErrRefused) {
				t.Errorf("%s: %v, want ErrRefused", host, err)
			}
		}
	}
	if internal.hits.Load() != 0 || queries.Load() == 0 {
		t.Fatalf("internal server hit %d times after %d DNS queries", internal.hits.Load(), queries.Load())
	}
}

// Response bodies are bounded: a body over the bound fails to read (or,
// announced, fails at once) instead of being truncated silently.
//
// Controls: APP-7
func TestResponseSizeBound(t *testing.T) {
	big := strings.Repeat("x", 4096)
	srv := newCounting(t, false, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/chunked" {
			w.(http.Flusher).Flush() // no Content-Length
		}
		io.WriteString(w, big)
	})
	c := outboundtest.New(t, outbound.Options{MaxResponse: 1024}, srv.Server)
	for _, path := range []string{"/announced", "/chunked"} {
		if _, err := get(context.Background(), c, srv.URL+path); !errors.Is(err, outbound.ErrTooLarge) {
			t.Errorf("%s: %v, want ErrTooLarge", path, err)
		}
	}
	exact := outboundtest.New(t, outbound.Options{MaxResponse: 4096}, srv.Server)
	if body, err := get(context.Background(), exact, srv.URL+"/chunked"); err != nil || len(body) != 4096 {
		t.Fatalf("body at the bound: %d bytes, %v", len(body), err)
	}
}

// The whole exchange is bounded in time: a server that answers slowly,
// or sends its body slowly, times out.
//
// Controls: APP-7
func TestTimeBound(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	srv := newCounting(t, false, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow-body" {
			w.Write([]byte("{"))
			w.(http.Flusher).Flush()
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	c := outboundtest.New(t, outbound.Options{Timeout: 200 * time.Millisecond}, srv.Server)
	for _, path := range []string{"/slow-headers", "/slow-body"} {
		start := time.Now()
		_, err := get(context.Background(), c, srv.URL+path)
		if !outbound.IsTimeout(err) {
			t.Errorf("%s: %v, want a timeout", path, err)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("%s: took %s", path, d)
		}
	}
	if outbound.New(outbound.Options{}).HTTP().Timeout != outbound.DefaultTimeout {
		t.Fatal("the production client has no overall timeout")
	}
}

// Only tests may build an allowance: no package of the module outside
// tests imports outboundtest.
//
// Controls: APP-7
func TestAllowanceOnlyInTests(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}: {{join .Imports " "}}`, "github.com/gatehouse-dev/gatehouse/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	const pkg = "github.com/gatehouse-dev/gatehouse/shared/outbound/outboundtest"
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, pkg) && !strings.HasPrefix(line, pkg+":") {
			t.Errorf("a non-test package imports outboundtest: %s", line)
		}
	}
	if !strings.Contains(string(out), pkg+":") {
		t.Fatal("go list did not list outboundtest: the check saw nothing")
	}
}
