package provider

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"golang.org/x/oauth2"

	"github.com/gatehouse-dev/gatehouse/shared/outbound"
)

// Revoke asks the platform to revoke a grant. It revokes refreshToken where
// the platform revokes the whole grant with it (RFC 7009), else
// accessToken. It returns nil without a call when the platform has no
// revocation endpoint. shop is the Shopify shop domain. The response body
// is never included in the error: it may echo the token.
func (p *Provider) Revoke(ctx context.Context, client *outbound.Client, shop, accessToken, refreshToken string) error {
	if p.Revocation == RevokeNone || p.RevokeURL == "" {
		return nil
	}
	if p.PerShop {
		if _, err := NormalizeShop(shop); err != nil {
			return err
		}
	}
	req, err := p.revokeRequest(ctx, shop, accessToken, refreshToken)
	if err != nil {
		return fmt.Errorf("revoke at %s: %w", p.Name, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("revoke at %s: %w", p.Name, scrub(err))
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("revoke at %s: status %d", p.Name, resp.StatusCode)
	}
	return nil
}

func (p *Provider) revokeRequest(ctx context.Context, shop, accessToken, refreshToken string) (*http.Request, error) {
	endpoint := p.endpoint(p.RevokeURL, shop)
	switch p.Revocation {
	case RevokeRFC7009:
		form := url.Values{"token": {accessToken}, "token_type_hint": {"access_token"}}
		if refreshToken != "" {
			form = url.Values{"token": {refreshToken}, "token_type_hint": {"refresh_token"}}
		}
		if p.AuthStyle != oauth2.AuthStyleInHeader {
			form.Set("client_id", p.ClientID)
			form.Set("client_secret", p.clientSecret.Reveal())
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
		if err != nil {
			return nil, scrub(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if p.AuthStyle == oauth2.AuthStyleInHeader {
			req.SetBasicAuth(url.QueryEscape(p.ClientID), url.QueryEscape(p.clientSecret.Reveal()))
		}
		return req, nil
	case RevokeGraphPermissions, RevokeShopify:
		req, err := http.NewRequestWithContext(ctx, http.MethodDelete, endpoint, nil)
		if err != nil {
			return nil, scrub(err)
		}
		if p.Revocation == RevokeShopify {
			req.Header.Set("X-Shopify-Access-Token", accessToken)
		} else {
			req.Header.Set("Authorization", "Bearer "+accessToken)
		}
		return req, nil
	}
	return nil, fmt.Errorf("unknown revocation style %d", p.Revocation)
}

// scrub drops the URL from a *url.Error, which can carry query values.
func scrub(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}

// ErrBadHMAC means a Shopify callback's hmac parameter is missing or wrong.
var ErrBadHMAC = errors.New("provider: callback hmac does not verify")

// VerifyCallbackHMAC checks a Shopify callback: hmac must be the hex
// HMAC-SHA256, under the app's client secret, of every other query
// parameter as "key=value" pairs sorted and joined with "&". Other
// platforms have nothing to check and return nil.
func (p *Provider) VerifyCallbackHMAC(query url.Values) error {
	if !p.PerShop {
		return nil
	}
	got := query["hmac"]
	if len(got) != 1 {
		return ErrBadHMAC
	}
	want, err := hex.DecodeString(got[0])
	if err != nil || !hmac.Equal(want, p.CallbackHMAC(query)) {
		return ErrBadHMAC
	}
	return nil
}

// CallbackHMAC computes the Shopify callback MAC of query (without its
// hmac and signature parameters).
func (p *Provider) CallbackHMAC(query url.Values) []byte {
	keys := make([]string, 0, len(query))
	for k := range query {
		if k != "hmac" && k != "signature" {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+"="+strings.Join(query[k], ","))
	}
	m := hmac.New(sha256.New, []byte(p.clientSecret.Reveal()))
	m.Write([]byte(strings.Join(parts, "&")))
	return m.Sum(nil)
}
