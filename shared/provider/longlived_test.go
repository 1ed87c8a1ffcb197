package provider

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/gatehouse-dev/gatehouse/shared/outbound"
	"github.com/gatehouse-dev/gatehouse/shared/outbound/outboundtest"
)

// metaAgainst returns the Meta provider with its token endpoint at url.
func metaAgainst(t *testing.T, url string) *Provider {
	t.Helper()
	r := allConfigured(t, func(s *Settings) { s.TokenURL = url })
	p, err := r.Lookup(MetaAds)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// The long-lived exchange sends Meta's documented request and keeps what
// it answers; a refusal or a malformed answer is an error that names
// neither the client secret nor the tokens.
//
// Controls: OAUTH-1
func TestExchangeLongLived(t *testing.T) {
	short := &oauth2.Token{AccessToken: "short-token", RefreshToken: "rt"}
	var answer func(w http.ResponseWriter)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if r.Method != http.MethodGet || q.Get("grant_type") != "fb_exchange_token" || q.Get("client_id") != "id-meta_ads" ||
			q.Get("client_secret") != "secret-meta_ads" || q.Get("fb_exchange_token") != "short-token" {
			http.Error(w, `{"error":{"message":"bad request"}}`, http.StatusBadRequest)
			return
		}
		answer(w)
	}))
	defer srv.Close()
	p := metaAgainst(t, srv.URL)

	answer = func(w http.ResponseWriter) {
		w.Write([]byte(`{"access_token":"long-token","token_type":"bearer","expires_in":5184000}`))
	}
	long, err := p.ExchangeLongLived(context.Background(), outboundtest.Client(t, srv), short)
	if err != nil {
		t.Fatal(err)
	}
	if long.AccessToken != "long-token" || long.RefreshToken != "" || long.Extra("expires_in") != float64(5184000) {
		t.Fatalf("long-lived token %+v (expires_in %v)", long, long.Extra("expires_in"))
	}

	for name, bad := range map[string]func(w http.ResponseWriter){
		"refused":       func(w http.ResponseWriter) { http.Error(w, `{"error":"invalid_grant"}`, http.StatusBadRequest) },
		"no token":      func(w http.ResponseWriter) { w.Write([]byte(`{"token_type":"bearer"}`)) },
		"not json":      func(w http.ResponseWriter) { w.Write([]byte(`<html>`)) },
		"negative ttl":  func(w http.ResponseWriter) { w.Write([]byte(`{"access_token":"x","expires_in":-5}`)) },
		"huge response": func(w http.ResponseWriter) { w.Write([]byte(strings.Repeat(" ", 70<<10) + `{"access_token":"x"}`)) },
	} {
		t.Run(name, func(t *testing.T) {
			answer = bad
			_, err := p.ExchangeLongLived(context.Background(), outboundtest.Client(t, srv), short)
			if err == nil {
				t.Fatal("accepted")
			}
			for _, secret := range []string{"secret-meta_ads", "short-token", "long-token"} {
				if strings.Contains(err.Error(), secret) {
					t.Fatalf("error %q names %s", err, secret)
				}
			}
		})
	}

	// Unreachable: the URL, which holds the secret, is not in the error.
	down := metaAgainst(t, "http://127.0.0.1:1/token")
	if _, err := down.ExchangeLongLived(context.Background(), outboundtest.Client(t, srv), short); err == nil || strings.Contains(err.Error(), "secret-meta_ads") {
		t.Fatalf("unreachable endpoint: %v", err)
	}
}

// Platforms without the step get their token back without a request.
func TestExchangeLongLivedOnlyWhereNeeded(t *testing.T) {
	r := allConfigured(t, func(s *Settings) { s.TokenURL = "http://127.0.0.1:1/never" })
	for _, name := range []string{GoogleAds, GoogleBusinessProfile, LinkedIn, Shopify} {
		p, err := r.Lookup(name)
		if err != nil {
			t.Fatal(err)
		}
		tok := &oauth2.Token{AccessToken: "a", RefreshToken: "r"}
		if got, err := p.ExchangeLongLived(context.Background(), outbound.New(outbound.Options{}), tok); err != nil || got != tok {
			t.Fatalf("%s: %v, %v", name, got, err)
		}
	}
}
