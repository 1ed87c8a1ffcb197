// Package oidcdiscovery reads an OpenID provider's discovery document and
// signing keys through the outbound client (APP-7), checks them, and keeps
// them in a bounded cache. Every byte it parses comes from a host a tenant
// may control: documents and key sets are bounded in size and checked
// field by field, and every endpoint they name must be a URL the outbound
// client would request.
package oidcdiscovery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/gatehouse-dev/gatehouse/shared/outbound"
)

// Bounds on what is read from a provider.
const (
	MaxDocument = 64 << 10  // discovery document, bytes
	MaxKeySet   = 256 << 10 // JWKS, bytes
	MaxKeys     = 50        // keys kept from one JWKS
	maxURL      = 2048
)

// Cause names why discovery failed, in words an owner can act on.
type Cause string

// Causes of [Error].
const (
	CauseUnreachable   Cause = "unreachable"     // no connection, TLS failure
	CauseRefused       Cause = "refused_address" // the host is, or resolves to, an address outbound requests may not reach
	CauseRedirect      Cause = "redirect"        // the provider answered with a redirect, which is not followed
	CauseTimeout       Cause = "timeout"         // no complete answer in time
	CauseStatus        Cause = "bad_status"      // an HTTP status other than 200
	CauseTooLarge      Cause = "too_large"       // the document or key set exceeded its bound
	CauseBadDocument   Cause = "bad_document"    // not a usable discovery document
	CauseMismatch      Cause = "issuer_mismatch" // the document names another issuer
	CauseBadEndpoint   Cause = "bad_endpoint"    // an endpoint that is not https or names a refused address
	CauseBadKeys       Cause = "bad_keys"        // no usable signing key in the key set
	CauseFailureCached Cause = "failure_cached"  // a recent attempt failed; not retried yet
)

// Error is a failed discovery or key fetch.
type Error struct {
	Cause Cause
	Err   error
}

func (e *Error) Error() string { return "oidc discovery: " + string(e.Cause) + ": " + e.Err.Error() }

func (e *Error) Unwrap() error { return e.Err }

func fail(c Cause, format string, a ...any) *Error {
	return &Error{Cause: c, Err: fmt.Errorf(format, a...)}
}

// Metadata is what sign-in needs from a discovery document.
type Metadata struct {
	Issuer      string
	AuthURL     string
	TokenURL    string
	JWKSURL     string
	UserInfoURL string   // optional
	Algorithms  []string // ID-token signing algorithms Gatehouse supports and the provider offers
}

// Supported is the set of ID-token signing algorithms accepted.
var Supported = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// Discover fetches issuer's discovery document through c and checks it
// ([ParseDocument]). Errors are an [*Error].
func Discover(ctx context.Context, c *outbound.Client, issuer string) (Metadata, error) {
	if _, err := c.CheckURL(issuer); err != nil {
		return Metadata{}, classify(err)
	}
	body, err := get(ctx, c, strings.TrimSuffix(issuer, "/")+"/.well-known/openid-configuration", MaxDocument)
	if err != nil {
		return Metadata{}, err
	}
	return ParseDocument(issuer, body, c.CheckURL)
}

// ParseDocument checks a discovery document (OpenID Connect Discovery
// 1.0, section 3) for issuer: it must name exactly issuer, and give an
// authorization, token and JWKS endpoint that checkURL accepts. Errors
// are an [*Error].
func ParseDocument(issuer string, body []byte, checkURL func(string) (*url.URL, error)) (Metadata, error) {
	var d struct {
		Issuer     string   `json:"issuer"`
		Auth       string   `json:"authorization_endpoint"`
		Token      string   `json:"token_endpoint"`
		JWKS       string   `json:"jwks_uri"`
		UserInfo   string   `json:"userinfo_endpoint"`
		Algorithms []string `json:"id_token_signing_alg_values_supported"`
		Responses  []string `json:"response_types_supported"`
	}
	if len(body) > MaxDocument {
		return Metadata{}, fail(CauseTooLarge, "document of %d bytes", len(body))
	}
	if err := json.Unmarshal(body, &d); err != nil {
		return Metadata{}, fail(CauseBadDocument, "not a JSON object: %v", err)
	}
	if d.Issuer != issuer {
		return Metadata{}, fail(CauseMismatch, "document names issuer %.200q", d.Issuer)
	}
	if len(d.Responses) > 0 && !slices.Contains(d.Responses, "code") {
		return Metadata{}, fail(CauseBadDocument, "the provider does not offer the authorization code flow")
	}
	m := Metadata{Issuer: issuer, AuthURL: d.Auth, TokenURL: d.Token, JWKSURL: d.JWKS, UserInfoURL: d.UserInfo}
	for _, e := range []struct {
		name, value string
		required    bool
	}{{"authorization_endpoint", d.Auth, true}, {"token_endpoint", d.Token, true}, {"jwks_uri", d.JWKS, true},
		{"userinfo_endpoint", d.UserInfo, false}} {
		if err := checkEndpoint(e.name, e.value, e.required, checkURL); err != nil {
			return Metadata{}, err
		}
	}
	for _, a := range d.Algorithms {
		if slices.Contains(Supported, a) && !slices.Contains(m.Algorithms, a) {
			m.Algorithms = append(m.Algorithms, a)
		}
	}
	if len(d.Algorithms) > 0 && len(m.Algorithms) == 0 {
		return Metadata{}, fail(CauseBadDocument, "no supported ID-token signing algorithm offered")
	}
	return m, nil
}

func checkEndpoint(name, value string, required bool, checkURL func(string) (*url.URL, error)) error {
	switch {
	case value == "" && !required:
		return nil
	case value == "":
		return fail(CauseBadDocument, "no %s", name)
	case len(value) > maxURL:
		return fail(CauseBadDocument, "%s longer than %d bytes", name, maxURL)
	}
	if _, err := checkURL(value); err != nil {
		return &Error{Cause: CauseBadEndpoint, Err: fmt.Errorf("%s: %w", name, err)}
	}
	return nil
}

// get fetches u and returns at most limit bytes of a 200 answer.
func get(ctx context.Context, c *outbound.Client, u string, limit int64) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fail(CauseBadEndpoint, "unusable URL")
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return nil, classify(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fail(CauseStatus, "status %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, classify(err)
	}
	if int64(len(body)) > limit {
		return nil, fail(CauseTooLarge, "more than %d bytes", limit)
	}
	return body, nil
}

// classify turns an outbound failure into an [*Error] with its cause.
func classify(err error) error {
	var e *Error
	switch {
	case errors.As(err, &e):
		return e
	case errors.Is(err, outbound.ErrRefused):
		return &Error{Cause: CauseRefused, Err: err}
	case errors.Is(err, outbound.ErrRedirect):
		return &Error{Cause: CauseRedirect, Err: err}
	case errors.Is(err, outbound.ErrTooLarge):
		return &Error{Cause: CauseTooLarge, Err: err}
	case errors.Is(err, outbound.ErrScheme), errors.Is(err, outbound.ErrBadURL):
		return &Error{Cause: CauseBadEndpoint, Err: err}
	case outbound.IsTimeout(err):
		return &Error{Cause: CauseTimeout, Err: err}
	}
	return &Error{Cause: CauseUnreachable, Err: err}
}
