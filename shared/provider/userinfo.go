package provider

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/oauth2"

	"github.com/gatehouse-dev/gatehouse/shared/outbound"
)

// maxUserinfoBytes bounds the userinfo answer read.
const maxUserinfoBytes = 1 << 20

// Account reads p's userinfo endpoint with tok's access token (as a Bearer
// header, or the access_token query parameter with TokenInQuery) through
// client and returns the account its AccountField names: a string, or a
// integer written in decimal, of 1 to 200 bytes of printable UTF-8. Any other answer is an
// error.
func Account(ctx context.Context, client *outbound.Client, p *Provider, tok *oauth2.Token) (string, error) {
	u, err := url.Parse(p.UserinfoURL)
	if err != nil {
		return "", fmt.Errorf("userinfo URL: %w", err)
	}
	if p.TokenInQuery {
		q := u.Query()
		q.Set("access_token", tok.AccessToken)
		u.RawQuery = q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Accept", "application/json")
	if !p.TokenInQuery {
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("userinfo of %s: %w", p.Name, redactURLError(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("userinfo of %s: status %d", p.Name, resp.StatusCode)
	}
	return accountField(io.LimitReader(resp.Body, maxUserinfoBytes), p.AccountField)
}

// accountField decodes a JSON object from r and returns field as a string.
func accountField(r io.Reader, field string) (string, error) {
	var obj map[string]json.RawMessage
	dec := json.NewDecoder(r)
	dec.UseNumber()
	if err := dec.Decode(&obj); err != nil {
		return "", fmt.Errorf("userinfo: not a JSON object: %w", err)
	}
	raw, ok := obj[field]
	if !ok {
		return "", fmt.Errorf("userinfo: no %q field", field)
	}
	var v any
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		return "", err
	}
	var s string
	switch t := v.(type) {
	case string:
		s = t
	case json.Number:
		if _, err := strconv.ParseInt(t.String(), 10, 64); err != nil {
			return "", fmt.Errorf("userinfo: %q is not an integer", field)
		}
		s = t.String()
	default:
		return "", fmt.Errorf("userinfo: %q is neither a string nor a number", field)
	}
	if s == "" || len(s) > 200 || !utf8.ValidString(s) || strings.ContainsFunc(s, unicode.IsControl) {
		return "", fmt.Errorf("userinfo: %q is empty, over 200 bytes, not UTF-8 or holds control characters", field)
	}
	return s, nil
}

// redactURLError drops the URL (which may carry the access token as a
// query parameter) from a transport error.
func redactURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}
