package oidcdiscovery_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/oauthtest"
	"github.com/gatehouse-dev/gatehouse/shared/oidcdiscovery"
	"github.com/gatehouse-dev/gatehouse/shared/outbound"
	"github.com/gatehouse-dev/gatehouse/shared/outbound/outboundtest"
)

func causeOf(err error) oidcdiscovery.Cause {
	var e *oidcdiscovery.Error
	if errors.As(err, &e) {
		return e.Cause
	}
	return ""
}

// Discovery reads a real provider's document through the outbound client.
//
// Controls: APP-7
func TestDiscover(t *testing.T) {
	srv := oauthtest.New(t, oauthtest.Options{})
	m, err := oidcdiscovery.Discover(context.Background(), outboundtest.Client(t, srv.Server), srv.Issuer())
	if err != nil {
		t.Fatal(err)
	}
	if m.Issuer != srv.Issuer() || m.AuthURL != srv.AuthURL() || m.TokenURL != srv.TokenURL() || m.JWKSURL != srv.URL+"/jwks" ||
		len(m.Algorithms) != 1 || m.Algorithms[0] != "RS256" {
		t.Fatalf("metadata %+v", m)
	}
	keys, err := oidcdiscovery.FetchKeys(context.Background(), outboundtest.Client(t, srv.Server), m.JWKSURL)
	if err != nil || len(keys) != 1 {
		t.Fatalf("keys: %d, %v", len(keys), err)
	}
}

// doc is a discovery document for issuer with its endpoints on base.
func doc(issuer, base string) string {
	return `{"issuer":"` + issuer + `","authorization_endpoint":"` + base + `/authorize","token_endpoint":"` + base +
		`/token","jwks_uri":"` + base + `/jwks","response_types_supported":["code"]}`
}

// Every way a hostile issuer can answer fails with a cause the owner can
// act on, and nothing behind a redirect is requested.
//
// Controls: APP-7
func TestDiscoverFailures(t *testing.T) {
	var internalHits atomic.Int64
	internal := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { internalHits.Add(1) }))
	t.Cleanup(internal.Close)
	var answer atomic.Value
	idp := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		answer.Load().(func(http.ResponseWriter, *http.Request))(w, r)
	}))
	t.Cleanup(idp.Close)
	c := outboundtest.New(t, outbound.Options{Timeout: 10 * time.Second}, idp)
	quick := outboundtest.New(t, outbound.Options{Timeout: 300 * time.Millisecond}, idp)
	for _, tc := range []struct {
		name   string
		issuer string
		answer func(w http.ResponseWriter, r *http.Request)
		cause  oidcdiscovery.Cause
	}{
		{"issuer mismatch", idp.URL, func(w http.ResponseWriter, _ *http.Request) {
			io.WriteString(w, doc("https://accounts.google.com", idp.URL))
		}, oidcdiscovery.CauseMismatch},
		{"not JSON", idp.URL, func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "<html>") }, oidcdiscovery.CauseBadDocument},
		{"no jwks_uri", idp.URL, func(w http.ResponseWriter, _ *http.Request) {
			io.WriteString(w, strings.Replace(doc(idp.URL, idp.URL), `"jwks_uri"`, `"x"`, 1))
		}, oidcdiscovery.CauseBadDocument},
		{"token endpoint on the metadata address", idp.URL, func(w http.ResponseWriter, _ *http.Request) {
			io.WriteString(w, strings.Replace(doc(idp.URL, idp.URL), idp.URL+"/token", "https://169.254.169.254/token", 1))
		}, oidcdiscovery.CauseBadEndpoint},
		{"jwks on localhost", idp.URL, func(w http.ResponseWriter, _ *http.Request) {
			io.WriteString(w, strings.Replace(doc(idp.URL, idp.URL), idp.URL+"/jwks", "https://localhost/jwks", 1))
		}, oidcdiscovery.CauseBadEndpoint},
		{"no code flow", idp.URL, func(w http.ResponseWriter, _ *http.Request) {
			io.WriteString(w, strings.Replace(doc(idp.URL, idp.URL), `["code"]`, `["id_token"]`, 1))
		}, oidcdiscovery.CauseBadDocument},
		{"unsupported algorithms only", idp.URL, func(w http.ResponseWriter, _ *http.Request) {
			io.WriteString(w, strings.Replace(doc(idp.URL, idp.URL), `{`, `{"id_token_signing_alg_values_supported":["none","HS256"],`, 1))
		}, oidcdiscovery.CauseBadDocument},
		{"redirect to an internal http host", idp.URL, func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, internal.URL+"/.well-known/openid-configuration", http.StatusFound)
		}, oidcdiscovery.CauseRedirect},
		{"404", idp.URL, http.NotFound, oidcdiscovery.CauseStatus},
		{"oversized document", idp.URL, func(w http.ResponseWriter, _ *http.Request) {
			io.WriteString(w, `{"issuer":"`+idp.URL+`","x":"`+strings.Repeat("a", oidcdiscovery.MaxDocument)+`"}`)
		}, oidcdiscovery.CauseTooLarge},
		{"slow server", idp.URL, func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-time.After(20 * time.Second):
			}
		}, oidcdiscovery.CauseTimeout},
		{"loopback issuer", internal.URL, nil, oidcdiscovery.CauseRefused},
		{"metadata issuer", "http://169.254.169.254", nil, oidcdiscovery.CauseRefused},
		{"private issuer", "https://10.0.0.1", nil, oidcdiscovery.CauseRefused},
		{"localhost issuer", "https://localhost:8443", nil, oidcdiscovery.CauseRefused},
	} {
		t.Run(tc.name, func(t *testing.T) {
			answer.Store(tc.answer)
			client := c
			if tc.cause == oidcdiscovery.CauseTimeout {
				client = quick
			}
			_, err := oidcdiscovery.Discover(context.Background(), client, tc.issuer)
			if got := causeOf(err); got != tc.cause {
				t.Fatalf("cause %q (%v), want %q", got, err, tc.cause)
			}
		})
	}
	if internalHits.Load() != 0 {
		t.Fatalf("the internal server was requested %d times", internalHits.Load())
	}
	// The production client refuses the plain-http and loopback issuers
	// before any request.
	prod := outbound.New(outbound.Options{})
	if _, err := oidcdiscovery.Discover(context.Background(), prod, idp.URL); causeOf(err) != oidcdiscovery.CauseRefused {
		t.Fatalf("production client, loopback issuer: %v", err)
	}
	if _, err := oidcdiscovery.Discover(context.Background(), prod, "http://idp.example.com"); causeOf(err) != oidcdiscovery.CauseBadEndpoint {
		t.Fatalf("production client, http issuer: %v", err)
	}
}

// ParseDocument and ParseKeys take any bytes without panicking, and what
// ParseDocument accepts always names the issuer and https endpoints the
// production client would request.
func FuzzParseDocument(f *testing.F) {
	f.Add(doc("https://idp.example.com", "https://idp.example.com"))
	f.Add(`{"issuer":"https://idp.example.com","authorization_endpoint":"https://10.0.0.1/a"}`)
	f.Add(`{"issuer":"https://idp.example.com","id_token_signing_alg_values_supported":["none"]}`)
	f.Add(`[]`)
	f.Add(`{"issuer":1}`)
	prod := outbound.New(outbound.Options{})
	f.Fuzz(func(t *testing.T, body string) {
		m, err := oidcdiscovery.ParseDocument("https://idp.example.com", []byte(body), prod.CheckURL)
		if err != nil {
			if causeOf(err) == "" {
				t.Fatalf("error without a cause: %v", err)
			}
			return
		}
		for _, u := range []string{m.AuthURL, m.TokenURL, m.JWKSURL} {
			if _, err := prod.CheckURL(u); err != nil || m.Issuer != "https://idp.example.com" {
				t.Fatalf("accepted %+v: %v", m, err)
			}
		}
	})
}
