package oauthcallback

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/bootstrap/bootstraptest"
	"github.com/gatehouse-dev/gatehouse/shared/logging"
	"github.com/gatehouse-dev/gatehouse/shared/outbound"
	"github.com/gatehouse-dev/gatehouse/shared/outbound/outboundtest"
	"github.com/gatehouse-dev/gatehouse/shared/provider"
	"github.com/gatehouse-dev/gatehouse/shared/store"
)

// hitCounter is a local server an attacker would like Gatehouse to reach
// (an internal service, the metadata server); it counts every request.
type hitCounter struct {
	*httptest.Server
	hits atomic.Int64
}

func newHitCounter(t *testing.T, tls bool, h http.HandlerFunc) *hitCounter {
	c := &hitCounter{}
	wrapped := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { c.hits.Add(1); h(w, r) })
	if tls {
		c.Server = httptest.NewTLSServer(wrapped)
	} else {
		c.Server = httptest.NewServer(wrapped)
	}
	t.Cleanup(c.Close)
	return c
}

func (c *hitCounter) port() string { return strconv.Itoa(c.Listener.Addr().(*net.TCPAddr).Port) }

// handler is the function with an outbound client built from o that may
// reach the local authorization servers and extra (and nothing else).
func (e *testEnv) handler(t *testing.T, o outbound.Options, change func(*Config), extra ...*httptest.Server) http.Handler {
	t.Helper()
	cfg := e.config(t)
	cfg.Outbound = outboundtest.New(t, o, append([]*httptest.Server{e.srv.Server, e.shopSrv.Server}, extra...)...)
	if change != nil {
		change(&cfg)
	}
	h, err := New(e.Deps, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// putSSO configures org A's SSO with issuer through h, as its owner.
func (e *testEnv) putSSO(t *testing.T, h http.Handler, issuer string) *httptest.ResponseRecorder {
	t.Helper()
	body := `{"issuer":"` + issuer + `","client_id":"sso-client","client_secret":"sso-secret-value"}`
	r := httptest.NewRequest(http.MethodPut, "/sso?org="+orgA, strings.NewReader(body))
	r.Header.Set("Authorization", "Bearer "+e.users["ownerA"].access)
	r.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec
}

// discoveryCause returns fields.issuer of a 422 issuer_discovery_failed.
func discoveryCause(t *testing.T, rec *httptest.ResponseRecorder) string {
	t.Helper()
	var body struct {
		Error struct {
			Code   string            `json:"code"`
			Fields map[string]string `json:"fields"`
		} `json:"error"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || rec.Code != http.StatusUnprocessableEntity ||
		body.Error.Code != "issuer_discovery_failed" {
		return "status " + strconv.Itoa(rec.Code) + ": " + rec.Body.String()
	}
	return body.Error.Fields["issuer"]
}

// An organization owner's issuer is attacker input. Saving it runs
// discovery through the outbound client, so an issuer on loopback, on the
// metadata address, on a private address, behind a redirect to an internal
// http host, on a name that resolves to loopback, or answering with an
// oversized document or too slowly, is refused with a 422 that names the
// cause; nothing is stored, the internal servers get no request, and each
// refusal is audited. Before this change PUT /sso stored every one of
// these issuers (200), and the anonymous GET /signin/oidc then fetched
// discovery from them with a plain http.Client that followed redirects.
//
// Controls: APP-7, AUTH-10, AUDIT-1
func TestSSOIssuerSSRF(t *testing.T) {
	e := newTestEnv(t, bootstraptest.Backends[0])
	internal := newHitCounter(t, false, func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, `{}`) })
	redirector := newHitCounter(t, true, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, internal.URL+"/.well-known/openid-configuration", http.StatusFound)
	})
	var oversized, slow, mismatch, metadataToken *hitCounter
	oversized = newHitCounter(t, true, func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, `{"issuer":"`+oversized.URL+`","pad":"`+strings.Repeat("x", 1<<20)+`"}`)
	})
	slow = newHitCounter(t, true, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(30 * time.Second):
		}
	})
	mismatch = newHitCounter(t, true, func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, `{"issuer":"`+e.srv.Issuer()+`","authorization_endpoint":"`+e.srv.AuthURL()+
			`","token_endpoint":"`+e.srv.TokenURL()+`","jwks_uri":"`+e.srv.URL+`/jwks"}`)
	})
	metadataToken = newHitCounter(t, true, func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, `{"issuer":"`+metadataToken.URL+`","authorization_endpoint":"`+metadataToken.URL+
			`/authorize","token_endpoint":"http://169.254.169.254/computeMetadata/v1/token","jwks_uri":"`+metadataToken.URL+`/jwks"}`)
	})
	resolver := outboundtest.Resolver(t, func(name string) (netip.Addr, bool) {
		if name == "idp.rebind.example" {
			return netip.MustParseAddr("127.0.0.1"), true
		}
		return netip.Addr{}, false
	})
	servers := []*httptest.Server{redirector.Server, oversized.Server, slow.Server, mismatch.Server, metadataToken.Server}
	h := e.handler(t, outbound.Options{Timeout: 20 * time.Second, Resolver: resolver}, nil, servers...)
	quick := e.handler(t, outbound.Options{Timeout: 500 * time.Millisecond}, nil, servers...)

	for _, tc := range []struct {
		name, issuer, cause string
	}{
		{"loopback address", "http://127.0.0.1:" + internal.port(), "refused_address"},
		{"localhost", "http://localhost:" + internal.port(), "refused_address"},
		{"IPv4-mapped loopback", "http://[::ffff:127.0.0.1]:" + internal.port(), "refused_address"},
		{"metadata address", "http://169.254.169.254", "refused_address"},
		{"metadata address, IPv6", "https://[fd00:ec2::254]", "refused_address"},
		{"private address", "https://10.0.0.7", "refused_address"},
		{"name resolving to loopback", "http://idp.rebind.example:" + internal.port(), "refused_address"},
		{"https issuer redirecting to an internal http host", redirector.URL, "redirect"},
		{"oversized discovery document", oversized.URL, "too_large"},
		{"slow server", slow.URL, "timeout"},
		{"document naming another issuer", mismatch.URL, "issuer_mismatch"},
		{"token endpoint on the metadata address", metadataToken.URL, "bad_endpoint"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			handler := h
			if tc.cause == "timeout" {
				handler = quick
			}
			if got := discoveryCause(t, e.putSSO(t, handler, tc.issuer)); got != tc.cause {
				t.Fatalf("PUT /sso: %s, want 422 with cause %q", got, tc.cause)
			}
			if _, err := e.Store.SSOConfig(context.Background(), orgA); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("refused configuration stored: %v", err)
			}
		})
	}
	if n := internal.hits.Load(); n != 0 {
		t.Fatalf("the internal server was requested %d times", n)
	}
	if n := auditFailures(t, e, "sso.configure"); n != 12 {
		t.Fatalf("%d refused configurations audited, want 12", n)
	}
	// An http issuer is refused as invalid outside the test allowance.
	prod := e.handler(t, outbound.Options{}, func(c *Config) { c.Outbound = outbound.New(outbound.Options{}) })
	if rec := e.putSSO(t, prod, "http://idp.example.com"); rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), `"issuer"`) {
		t.Fatalf("http issuer with the production client: %d %s", rec.Code, rec.Body)
	}
}

// Discovery runs once, when the owner saves the configuration; the
// anonymous sign-in start uses the stored endpoints and requests nothing
// from the issuer. A configuration saved before discovery moved (no
// stored endpoints) answers 409 sso_not_ready and requests nothing:
// before this change, GET /signin/oidc fetched the issuer's discovery
// document on every anonymous request for an issuer not yet cached, and
// again after each failure.
//
// Controls: APP-7, AUTH-10
func TestSSOSignInStartFetchesNothing(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *testEnv) {
		if rec := e.putSSO(t, e.h, e.srv.Issuer()); rec.Code != http.StatusOK {
			t.Fatalf("configure: %d %s", rec.Code, rec.Body)
		}
		c, err := e.Store.SSOConfig(context.Background(), orgA)
		if err != nil || c.Discovery.AuthURL != e.srv.AuthURL() || c.Discovery.TokenURL != e.srv.TokenURL() ||
			c.Discovery.JWKSURL != e.srv.URL+"/jwks" || !c.Discovery.DiscoveredAt.Equal(e.Clock.Now()) {
			t.Fatalf("stored discovery %+v, %v", c.Discovery, err)
		}
		docs, keys := e.srv.Discoveries(), e.srv.KeyFetches()
		if docs != 1 || keys != 1 {
			t.Fatalf("saving fetched the document %d and the keys %d times, want 1 and 1", docs, keys)
		}
		for range 5 {
			if rec := e.do(t, http.MethodGet, "/signin/oidc?org=org-a&return_to=/", ""); rec.Code != http.StatusFound {
				t.Fatalf("sign-in start: %d %s", rec.Code, rec.Body)
			}
		}
		if e.srv.Discoveries() != docs || e.srv.KeyFetches() != keys {
			t.Fatalf("sign-in start requested the issuer: %d documents, %d key sets", e.srv.Discoveries()-docs, e.srv.KeyFetches()-keys)
		}

		// A configuration stored without discovery, naming an internal host.
		internal := newHitCounter(t, false, func(w http.ResponseWriter, _ *http.Request) {})
		c.Issuer, c.Discovery = internal.URL, store.SSODiscovery{}
		if err := e.Store.PutSSOConfig(context.Background(), c); err != nil {
			t.Fatal(err)
		}
		h := e.handler(t, outbound.Options{}, nil, internal.Server) // even were it allowed
		for range 3 {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/signin/oidc?org=org-a&return_to=/", nil))
			if rec.Code != http.StatusConflict || !strings.Contains(rec.Body.String(), "sso_not_ready") {
				t.Fatalf("undiscovered configuration: %d %s", rec.Code, rec.Body)
			}
		}
		if internal.hits.Load() != 0 {
			t.Fatal("sign-in start requested the issuer")
		}
	})
}

// Sign-in start is rate-limited per client network; other networks are
// not affected.
//
// Controls: APP-7, AUTH-3
func TestSignInStartRateLimited(t *testing.T) {
	e := newTestEnv(t, bootstraptest.Backends[0])
	start := func(addr string) int {
		r := httptest.NewRequest(http.MethodGet, "/signin/google?return_to=/", nil)
		r.RemoteAddr = addr + ":4711"
		rec := httptest.NewRecorder()
		e.h.ServeHTTP(rec, r)
		return rec.Code
	}
	for i := range signInStartNetwork.Burst {
		if code := start("203.0.113." + strconv.Itoa(i%200+1)); code != http.StatusFound {
			t.Fatalf("start %d: %d", i, code)
		}
	}
	if code := start("203.0.113.250"); code != http.StatusTooManyRequests {
		t.Fatalf("start past the burst, same /24: %d, want 429", code)
	}
	if code := start("198.51.100.7"); code != http.StatusFound {
		t.Fatalf("another network: %d", code)
	}
}

// Each save of an SSO configuration makes requests to a host its owner
// chose, so saves are rate-limited per user.
//
// Controls: APP-7
func TestSSOSaveRateLimited(t *testing.T) {
	e := newTestEnv(t, bootstraptest.Backends[0])
	for i := range ssoSaveUser.Burst {
		if rec := e.putSSO(t, e.h, e.srv.Issuer()); rec.Code != http.StatusOK {
			t.Fatalf("save %d: %d %s", i, rec.Code, rec.Body)
		}
	}
	docs := e.srv.Discoveries()
	if rec := e.putSSO(t, e.h, e.srv.Issuer()); rec.Code != http.StatusTooManyRequests || e.srv.Discoveries() != docs {
		t.Fatalf("save past the burst: %d, %d discoveries", rec.Code, e.srv.Discoveries()-docs)
	}
}

// A configured issuer (Google sign-in) whose discovery fails is asked once
// per FailureTTL, however many sign-ins start.
//
// Controls: APP-7
func TestSignInDiscoveryFailureCached(t *testing.T) {
	e := newTestEnv(t, bootstraptest.Backends[0])
	down := newHitCounter(t, false, func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "down", http.StatusBadGateway)
	})
	h := e.handler(t, outbound.Options{}, func(c *Config) {
		c.SignIn["google"] = provider.Settings{ClientID: "google-client", ClientSecret: logging.NewSecret("google-secret-value"),
			Issuer: down.URL}
	}, down.Server)
	for range 10 {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/signin/google?return_to=/", nil))
		if rec.Code != http.StatusServiceUnavailable {
			t.Fatalf("start: %d %s", rec.Code, rec.Body)
		}
	}
	if n := down.hits.Load(); n != 1 {
		t.Fatalf("the failing issuer was asked %d times, want 1", n)
	}
}
