package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"google.golang.org/api/idtoken"

	"github.com/gatehouse-dev/gatehouse/functions/auth"
)

// adminClient calls the admin API of one deployment. The `gatehouse admin`
// commands do nothing else: every operation, its checks and its audit
// event are the API's.
type adminClient struct {
	base   *url.URL // the Auth function's URL; routes are under base/admin
	reason string
	token  func(ctx context.Context) (string, error)
	http   *http.Client
}

// adminFlags are the persistent flags of `gatehouse admin`.
type adminFlags struct {
	url, audience, reason string
}

// defaultAdminURL is where `gatehouse serve` mounts the Auth function.
const defaultAdminURL = "http://127.0.0.1:8080/auth"

// newAdminClient returns a client for f. The credential is the local admin
// token in GATEHOUSE_ADMIN_TOKEN when set (development), else a Google ID
// token for the audience minted from Application Default Credentials,
// which must be (or impersonate) an allowed service account.
func newAdminClient(ctx context.Context, f adminFlags) (*adminClient, error) {
	if strings.TrimSpace(f.reason) == "" {
		return nil, errors.New("--reason is required: every admin call is audited with it")
	}
	base, err := url.Parse(strings.TrimSuffix(f.url, "/"))
	if err != nil || (base.Scheme != "https" && base.Scheme != "http") || base.Host == "" {
		return nil, fmt.Errorf("--url %q is not an http(s) URL", f.url)
	}
	c := &adminClient{base: base, reason: f.reason, http: &http.Client{Timeout: 30 * time.Second}}
	if tok := os.Getenv("GATEHOUSE_ADMIN_TOKEN"); tok != "" {
		c.token = func(context.Context) (string, error) { return tok, nil }
		return c, nil
	}
	audience := f.audience
	if audience == "" {
		audience = base.String() + "/admin"
	}
	src, err := idtoken.NewTokenSource(ctx, audience)
	if err != nil {
		return nil, fmt.Errorf("Google ID token for %s (set GATEHOUSE_ADMIN_TOKEN for a local server): %w", audience, err)
	}
	c.token = func(context.Context) (string, error) {
		t, err := src.Token()
		if err != nil {
			return "", fmt.Errorf("Google ID token: %w", err)
		}
		return t.AccessToken, nil
	}
	return c, nil
}

// apiError is an error answer of the API.
type apiError struct {
	Status  int
	Code    string
	Message string
	Fields  map[string]string
}

func (e *apiError) Error() string {
	s := fmt.Sprintf("%s (%d %s)", e.Message, e.Status, e.Code)
	for k, v := range e.Fields {
		s += fmt.Sprintf("; %s: %s", k, v)
	}
	return s
}

// do sends method path (relative to base/admin, with query q) with body
// (JSON-encoded unless nil) and returns the raw JSON answer; an error
// answer is an *apiError.
func (c *adminClient) do(ctx context.Context, method, path string, q url.Values, body any) ([]byte, error) {
	u := *c.base
	u.Path += "/admin" + path
	u.RawQuery = q.Encode()
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return nil, err
	}
	tok, err := c.token(ctx)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set(auth.ReasonHeader, c.reason)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, u.Path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return nil, fmt.Errorf("%s %s: read answer: %w", method, u.Path, err)
	}
	if resp.StatusCode >= 400 {
		var e struct {
			Error struct {
				Code    string            `json:"code"`
				Message string            `json:"message"`
				Fields  map[string]string `json:"fields"`
			} `json:"error"`
		}
		_ = json.Unmarshal(raw, &e)
		return nil, &apiError{Status: resp.StatusCode, Code: e.Error.Code, Message: e.Error.Message, Fields: e.Error.Fields}
	}
	return raw, nil
}
