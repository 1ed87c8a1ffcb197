package provider

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"golang.org/x/oauth2"
)

// Definition is a platform defined entirely by configuration: the generic
// OAuth 2.0 platform. A team connects any provider that speaks RFC 6749's
// authorization-code grant by writing one (GATEHOUSE_OAUTH_PLATFORMS,
// docs/oauth.md); the built-in platforms that need no code of their own
// are definitions too (catalogue.json).
type Definition struct {
	Name             string `json:"name"`         // [a-z][a-z0-9_]{1,39}, used in URLs
	DisplayName      string `json:"display_name"` // the name when empty
	AuthorizationURL string `json:"authorization_url"`
	TokenURL         string `json:"token_url"`
	RevocationURL    string `json:"revocation_url,omitempty"` // RFC 7009; none when empty
	// UserinfoURL, when set, is read with the new access token after the
	// code exchange; AccountField ("sub" when empty) of its JSON answer
	// names the connected account. Without it the account is the label
	// the member gave.
	UserinfoURL  string `json:"userinfo_url,omitempty"`
	AccountField string `json:"account_field,omitempty"`
	// TokenPlacement is how the access token is presented to the
	// userinfo endpoint: "header" (Authorization: Bearer, the default)
	// or "query" (?access_token=).
	TokenPlacement string            `json:"token_placement,omitempty"`
	Issuer         string            `json:"issuer,omitempty"` // RFC 9207 iss the authorization response must carry
	Scopes         []string          `json:"scopes"`
	ScopeSeparator string            `json:"scope_separator,omitempty"` // " " (default) or ","
	PKCE           *bool             `json:"pkce,omitempty"`            // S256 PKCE; true when absent
	AuthParams     map[string]string `json:"authorization_params,omitempty"`
	// ClientAuth is how the client authenticates at the token and
	// revocation endpoints: "basic" (HTTP Basic, the default) or "post"
	// (client_id and client_secret in the form).
	ClientAuth           string `json:"client_auth,omitempty"`
	RotatesRefreshTokens bool   `json:"rotates_refresh_tokens,omitempty"`
}

// Limits of a definition.
const (
	maxDefinitions = 50
	maxScopes      = 50
	maxParams      = 20
)

var (
	nameRE  = regexp.MustCompile(`^[a-z][a-z0-9_]{1,39}$`)
	fieldRE = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)
	// reservedParams are set by the flow itself; a definition may not
	// replace them.
	reservedParams = []string{"client_id", "client_secret", "redirect_uri", "response_type", "state", "scope",
		"code_challenge", "code_challenge_method", "nonce"}
)

//go:embed catalogue.json
var catalogueJSON []byte

// ParseDefinitions reads a JSON array of definitions and returns them as
// platforms. Every problem is an error naming the definition and field:
// unknown fields, a bad name or a duplicate, an endpoint that is not an
// absolute URL (https when requireHTTPS), a wildcard or blank scope, a
// reserved authorization parameter, an unknown client_auth or
// token_placement.
func ParseDefinitions(raw []byte, requireHTTPS bool) ([]Platform, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var defs []Definition
	if err := dec.Decode(&defs); err != nil {
		return nil, fmt.Errorf("platform definitions: %w", err)
	}
	if dec.More() {
		return nil, errors.New("platform definitions: trailing data after the array")
	}
	if len(defs) > maxDefinitions {
		return nil, fmt.Errorf("platform definitions: %d, at most %d", len(defs), maxDefinitions)
	}
	var out []Platform
	seen := map[string]bool{}
	for i, d := range defs {
		p, err := d.platform(requireHTTPS)
		if err == nil && seen[p.Name] {
			err = errors.New("name: defined twice")
		}
		if err != nil {
			return nil, fmt.Errorf("platform definition %d (%q): %w", i, d.Name, err)
		}
		seen[p.Name] = true
		out = append(out, p)
	}
	return out, nil
}

// platform checks d and converts it.
func (d Definition) platform(requireHTTPS bool) (Platform, error) {
	if !nameRE.MatchString(d.Name) {
		return Platform{}, errors.New("name: must match [a-z][a-z0-9_]{1,39}")
	}
	p := Platform{Name: d.Name, DisplayName: cmpOr(d.DisplayName, d.Name), AuthURL: d.AuthorizationURL,
		TokenURL: d.TokenURL, RevokeURL: d.RevocationURL, UserinfoURL: d.UserinfoURL,
		AccountField: cmpOr(d.AccountField, "sub"), Issuer: d.Issuer, Scopes: slices.Clone(d.Scopes),
		ScopeSeparator: cmpOr(d.ScopeSeparator, " "), NoPKCE: d.PKCE != nil && !*d.PKCE,
		RotatesRefreshTokens: d.RotatesRefreshTokens}
	if len(d.DisplayName) > 100 {
		return p, errors.New("display_name: at most 100 characters")
	}
	for _, e := range []struct{ field, url string }{{"authorization_url", d.AuthorizationURL},
		{"token_url", d.TokenURL}, {"revocation_url", d.RevocationURL}, {"userinfo_url", d.UserinfoURL}} {
		if e.url == "" && (e.field == "authorization_url" || e.field == "token_url") {
			return p, fmt.Errorf("%s: required", e.field)
		}
		if err := checkDefinedURL(e.url, requireHTTPS); err != nil {
			return p, fmt.Errorf("%s: %w", e.field, err)
		}
	}
	if p.RevokeURL != "" {
		p.Revocation = RevokeRFC7009
	}
	if err := checkScopes(p.Scopes, p.ScopeSeparator); err != nil {
		return p, err
	}
	if len(d.AuthParams) > maxParams {
		return p, fmt.Errorf("authorization_params: at most %d", maxParams)
	}
	for k, v := range d.AuthParams {
		if !fieldRE.MatchString(k) || slices.Contains(reservedParams, k) || len(v) > 200 {
			return p, fmt.Errorf("authorization_params: %q is reserved or malformed", k)
		}
	}
	if len(d.AuthParams) > 0 {
		p.AuthParams = map[string]string{}
		for k, v := range d.AuthParams {
			p.AuthParams[k] = v
		}
	}
	if !fieldRE.MatchString(p.AccountField) {
		return p, errors.New("account_field: must match [A-Za-z0-9_.-]{1,64}")
	}
	switch d.ClientAuth {
	case "", "basic":
		p.AuthStyle = oauth2.AuthStyleInHeader
	case "post":
		p.AuthStyle = oauth2.AuthStyleInParams
	default:
		return p, errors.New(`client_auth: "basic" or "post"`)
	}
	switch d.TokenPlacement {
	case "", "header":
	case "query":
		p.TokenInQuery = true
	default:
		return p, errors.New(`token_placement: "header" or "query"`)
	}
	return p, nil
}

func cmpOr(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// checkScopes enforces OAUTH-5 on configured scopes: at least one, none
// blank, none holding the separator or whitespace, no wildcard.
func checkScopes(scopes []string, sep string) error {
	if sep != " " && sep != "," {
		return errors.New(`scope_separator: " " or ","`)
	}
	if len(scopes) == 0 || len(scopes) > maxScopes {
		return fmt.Errorf("scopes: 1 to %d", maxScopes)
	}
	for _, s := range scopes {
		if s == "" || len(s) > 200 || strings.ContainsAny(s, " \t\r\n,*") {
			return fmt.Errorf("scopes: %q is blank, too long, holds a separator or is a wildcard", s)
		}
	}
	return nil
}

// checkDefinedURL accepts "" or an absolute http(s) URL with a host, no
// credentials and no fragment; https only when requireHTTPS.
func checkDefinedURL(raw string, requireHTTPS bool) error {
	if raw == "" {
		return nil
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil || u.Host == "" || u.User != nil || u.Fragment != "" || u.Opaque != "":
		return errors.New("not an absolute URL without credentials or fragment")
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && !requireHTTPS:
		return nil
	}
	return errors.New("must be https")
}

// catalogue returns the built-in platforms that are plain definitions.
func catalogue() []Platform {
	ps, err := ParseDefinitions(catalogueJSON, true)
	if err != nil {
		panic("provider: built-in catalogue: " + err.Error()) // a build defect, caught by every test
	}
	return ps
}
