package provider

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"golang.org/x/oauth2"

	"github.com/gatehouse-dev/gatehouse/shared/logging"
)

// ErrUnknown means the platform does not exist or is not configured.
var ErrUnknown = errors.New("provider: unknown platform")

// ErrBadShop means a Shopify shop domain is not a myshopify.com domain.
var ErrBadShop = errors.New("provider: invalid shop domain")

// Settings configure one platform. Empty endpoint fields keep the
// platform's production endpoints.
type Settings struct {
	ClientID     string
	ClientSecret logging.Secret
	AuthURL      string
	TokenURL     string
	RevokeURL    string
	Issuer       string
	APIURL       string // sign-in with GitHub: the API base URL
}

// Provider is a configured platform.
type Provider struct {
	Platform
	ClientID     string
	clientSecret logging.Secret
}

// Registry holds the configured platforms. It is immutable.
type Registry struct {
	byName map[string]*Provider
}

// NewRegistry configures platforms from settings, keyed by platform name.
// A platform with no client id is left out (unavailable, not an error); one
// with a client id and no secret, or an endpoint that is not an absolute
// http(s) URL, is an error.
func NewRegistry(platforms []Platform, settings map[string]Settings) (*Registry, error) {
	r := &Registry{byName: map[string]*Provider{}}
	seen := map[string]bool{}
	for _, p := range platforms {
		if seen[p.Name] {
			return nil, fmt.Errorf("provider %s: defined twice (a defined platform may not reuse a built-in name)", p.Name)
		}
		seen[p.Name] = true
		s, ok := settings[p.Name]
		if !ok || s.ClientID == "" {
			continue
		}
		if s.ClientSecret.IsZero() {
			return nil, fmt.Errorf("provider %s: client id without a client secret", p.Name)
		}
		override(&p.AuthURL, s.AuthURL)
		override(&p.TokenURL, s.TokenURL)
		override(&p.RevokeURL, s.RevokeURL)
		override(&p.Issuer, s.Issuer)
		for _, e := range []string{p.AuthURL, p.TokenURL, p.RevokeURL} {
			if err := checkEndpoint(e); err != nil {
				return nil, fmt.Errorf("provider %s: endpoint %q: %w", p.Name, e, err)
			}
		}
		p.Scopes = slices.Clone(p.Scopes)
		r.byName[p.Name] = &Provider{Platform: p, ClientID: s.ClientID, clientSecret: s.ClientSecret}
	}
	return r, nil
}

func override(dst *string, v string) {
	if v != "" {
		*dst = v
	}
}

func checkEndpoint(e string) error {
	if e == "" {
		return nil
	}
	u, err := url.Parse(strings.ReplaceAll(e, ShopPlaceholder, "shop.example"))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
		return errors.New("not an absolute http(s) URL")
	}
	return nil
}

// Lookup returns the configured platform name, or [ErrUnknown].
func (r *Registry) Lookup(name string) (*Provider, error) {
	p, ok := r.byName[name]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknown, name)
	}
	return p, nil
}

// Names returns the configured platforms' names, sorted.
func (r *Registry) Names() []string {
	names := make([]string, 0, len(r.byName))
	for n := range r.byName {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// shopRE is a myshopify.com shop domain, lower-case.
var shopRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}\.myshopify\.com$`)

// NormalizeShop returns shop lower-cased if it is a myshopify.com shop
// domain (no scheme, port, path or userinfo), else [ErrBadShop].
func NormalizeShop(shop string) (string, error) {
	s := strings.ToLower(shop)
	if !shopRE.MatchString(s) {
		return "", ErrBadShop
	}
	return s, nil
}

// Config returns the x/oauth2 configuration for a flow that comes back to
// redirectURL. For a per-shop platform, shop must be a domain from
// [NormalizeShop]; it is ignored otherwise.
func (p *Provider) Config(redirectURL, shop string) (*oauth2.Config, error) {
	if p.PerShop {
		if _, err := NormalizeShop(shop); err != nil {
			return nil, err
		}
	}
	c := &oauth2.Config{
		ClientID:     p.ClientID,
		ClientSecret: p.clientSecret.Reveal(),
		RedirectURL:  redirectURL,
		Endpoint: oauth2.Endpoint{
			AuthURL:   p.endpoint(p.AuthURL, shop),
			TokenURL:  p.endpoint(p.TokenURL, shop),
			AuthStyle: p.AuthStyle,
		},
	}
	if p.ScopeSeparator == " " {
		c.Scopes = slices.Clone(p.Scopes)
	}
	return c, nil
}

func (p *Provider) endpoint(e, shop string) string {
	if !p.PerShop {
		return e
	}
	return strings.ReplaceAll(e, ShopPlaceholder, shop)
}

// AuthCodeURL returns the authorization URL of a flow: the state, the PKCE
// S256 challenge of verifier (OAUTH-2; left out only for a defined
// platform with "pkce": false), the platform's scopes and extra
// parameters. extra adds flow-specific parameters (an OIDC nonce).
func (p *Provider) AuthCodeURL(c *oauth2.Config, state, verifier string, extra ...oauth2.AuthCodeOption) string {
	var opts []oauth2.AuthCodeOption
	if !p.NoPKCE {
		opts = append(opts, oauth2.S256ChallengeOption(verifier))
	}
	if p.ScopeSeparator != " " {
		opts = append(opts, oauth2.SetAuthURLParam("scope", strings.Join(p.Scopes, p.ScopeSeparator)))
	}
	for _, k := range sortedKeys(p.AuthParams) {
		opts = append(opts, oauth2.SetAuthURLParam(k, p.AuthParams[k]))
	}
	return c.AuthCodeURL(state, append(opts, extra...)...)
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// ExchangeOptions are the options of the code exchange: the PKCE verifier,
// unless the platform does without PKCE.
func (p *Provider) ExchangeOptions(verifier string) []oauth2.AuthCodeOption {
	if p.NoPKCE {
		return nil
	}
	return []oauth2.AuthCodeOption{oauth2.VerifierOption(verifier)}
}

// CheckIssuer applies RFC 9207: if the authorization response carries iss
// and the platform names an issuer, they must be equal.
func (p *Provider) CheckIssuer(iss string) error {
	if iss == "" || p.Issuer == "" || iss == p.Issuer {
		return nil
	}
	return fmt.Errorf("provider %s: authorization response from issuer %q", p.Name, iss)
}

// GrantedScopes returns the scopes a token response granted (its "scope"
// field, split on spaces and commas), or the requested scopes if the
// response names none.
func (p *Provider) GrantedScopes(tok *oauth2.Token) []string {
	s, _ := tok.Extra("scope").(string)
	got := strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ',' })
	if len(got) == 0 {
		return slices.Clone(p.Scopes)
	}
	return got
}
