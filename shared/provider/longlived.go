package provider

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"golang.org/x/oauth2"

	"github.com/gatehouse-dev/gatehouse/shared/outbound"
)

// maxTokenResponse bounds what is read of a token endpoint's answer.
const maxTokenResponse = 64 << 10

// ExchangeLongLived trades tok, fresh from the code exchange, for the
// platform's long-lived token where the platform has that step
// ([Platform.LongLived]); other platforms get tok back unchanged. For Meta
// this is GET on the token endpoint with grant_type=fb_exchange_token and
// the client credentials, as Meta documents it. Neither the URL (it holds
// the client secret) nor the response body appears in an error.
func (p *Provider) ExchangeLongLived(ctx context.Context, client *outbound.Client, tok *oauth2.Token) (*oauth2.Token, error) {
	if !p.LongLived {
		return tok, nil
	}
	q := url.Values{"grant_type": {"fb_exchange_token"}, "client_id": {p.ClientID},
		"client_secret": {p.clientSecret.Reveal()}, "fb_exchange_token": {tok.AccessToken}}
	u, err := url.Parse(p.TokenURL)
	if err != nil {
		return nil, errors.New("long-lived exchange: bad token URL")
	}
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("long-lived exchange: %w", scrub(err))
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("long-lived exchange at %s: %w", p.Name, scrub(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxTokenResponse+1))
	if err != nil {
		return nil, fmt.Errorf("long-lived exchange at %s: read: %w", p.Name, err)
	}
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("long-lived exchange at %s: status %d", p.Name, resp.StatusCode)
	}
	if len(body) > maxTokenResponse {
		return nil, fmt.Errorf("long-lived exchange at %s: response too large", p.Name)
	}
	var out struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int64  `json:"expires_in"`
	}
	if err := json.Unmarshal(body, &out); err != nil || out.AccessToken == "" {
		return nil, fmt.Errorf("long-lived exchange at %s: response without an access token", p.Name)
	}
	if out.ExpiresIn < 0 || out.ExpiresIn > 10*365*24*3600 {
		return nil, fmt.Errorf("long-lived exchange at %s: implausible expires_in %d", p.Name, out.ExpiresIn)
	}
	// No refresh token: Meta issues none, and refreshing would only yield
	// a short-lived token again. The connection lasts until the long-lived
	// token expires, then needs the user to connect again.
	long := &oauth2.Token{AccessToken: out.AccessToken, TokenType: out.TokenType}
	extra := map[string]any{"scope": tok.Extra("scope")}
	if out.ExpiresIn > 0 {
		long.Expiry = time.Now().Add(time.Duration(out.ExpiresIn) * time.Second)
		// As in a token response, so expiry is measured on the caller's clock.
		extra["expires_in"] = float64(out.ExpiresIn)
	}
	return long.WithExtra(extra), nil
}
