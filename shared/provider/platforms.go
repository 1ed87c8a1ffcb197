// Package provider is the registry of third-party platforms Gatehouse
// connects to: their OAuth 2.0 endpoints, the least scopes each needs
// (OAUTH-5), the extra authorization parameters (Google's offline access
// with consent, OAUTH-4), how tokens are revoked, and whether refresh
// tokens rotate. Client ids and secrets come from configuration; a platform
// without them is not available.
package provider

import "golang.org/x/oauth2"

// RevokeStyle is how a platform revokes a grant.
type RevokeStyle int

const (
	// RevokeNone: the platform has no revocation endpoint.
	RevokeNone RevokeStyle = iota
	// RevokeRFC7009: POST token (and client credentials) to RevokeURL.
	RevokeRFC7009
	// RevokeGraphPermissions: DELETE RevokeURL with the access token
	// (Meta's /me/permissions).
	RevokeGraphPermissions
	// RevokeShopify: DELETE RevokeURL (the shop's api_permissions/current)
	// with the access token in X-Shopify-Access-Token.
	RevokeShopify
)

// ShopPlaceholder in a Shopify endpoint is replaced by the validated shop
// domain.
const ShopPlaceholder = "{shop}"

// Platform describes one platform. Endpoints may be overridden by
// configuration (tests point them at a local server).
type Platform struct {
	Name        string // registry key, used in URLs: /connect/{name}
	DisplayName string
	AuthURL     string
	TokenURL    string
	RevokeURL   string
	Revocation  RevokeStyle
	// Issuer is the RFC 9207 "iss" the platform adds to its authorization
	// response; when set, a callback carrying another iss is refused.
	Issuer string
	// Scopes are the least the product needs: read-only wherever the
	// platform offers a read-only scope, never a wildcard.
	Scopes []string
	// ScopeSeparator joins Scopes in the authorization request: " " by
	// RFC 6749, "," where the platform wants that.
	ScopeSeparator string
	// AuthParams are added to the authorization request.
	AuthParams map[string]string
	// RotatesRefreshTokens says the platform returns a new refresh token on
	// each refresh and invalidates the old one. None of the built-in
	// platforms does; the broker stores whatever refresh token a response
	// carries either way (docs/oauth.md).
	RotatesRefreshTokens bool
	// LongLived says the code exchange yields a short-lived user token
	// that the token endpoint trades for a long-lived one (Meta's
	// fb_exchange_token grant, about 60 days, no refresh token).
	LongLived bool
	// PerShop: endpoints name the shop ({shop}), the callback carries an
	// hmac to verify (Shopify).
	PerShop   bool
	AuthStyle oauth2.AuthStyle
	// NoPKCE leaves PKCE out of the flow, for a defined platform that
	// rejects it; every built-in platform uses S256 PKCE.
	NoPKCE bool
	// UserinfoURL, if set, is read with the new access token after the
	// code exchange, and AccountField of its JSON answer names the
	// connected account (defined platforms; see [Definition]).
	UserinfoURL  string
	AccountField string
	// TokenInQuery presents the access token to UserinfoURL as the
	// access_token query parameter instead of a Bearer header.
	TokenInQuery bool
}

// Names of the built-in platforms.
const (
	GoogleBusinessProfile = "google_business_profile"
	GoogleAds             = "google_ads"
	LinkedIn              = "linkedin"
	MetaAds               = "meta_ads"
	Shopify               = "shopify"
)

// Builtin returns the platforms Gatehouse knows, with production endpoints:
// the catalogue's definitions (Google Business Profile, Google Ads,
// LinkedIn: see catalogue.json; Google's ask for offline access with
// consent so a refresh token is always issued, OAUTH-4), and the two that
// need code of their own: Meta's long-lived token exchange and Graph
// revocation, and Shopify's per-shop endpoints.
func Builtin() []Platform {
	return append(catalogue(), []Platform{
		{
			Name: MetaAds, DisplayName: "Meta Ads",
			AuthURL: "https://www.facebook.com/v21.0/dialog/oauth", TokenURL: "https://graph.facebook.com/v21.0/oauth/access_token",
			RevokeURL: "https://graph.facebook.com/v21.0/me/permissions", Revocation: RevokeGraphPermissions,
			Scopes: []string{"ads_read"}, ScopeSeparator: ",", LongLived: true, AuthStyle: oauth2.AuthStyleInParams,
		},
		{
			Name: Shopify, DisplayName: "Shopify",
			AuthURL:   "https://" + ShopPlaceholder + "/admin/oauth/authorize",
			TokenURL:  "https://" + ShopPlaceholder + "/admin/oauth/access_token",
			RevokeURL: "https://" + ShopPlaceholder + "/admin/api_permissions/current.json", Revocation: RevokeShopify,
			Scopes: []string{"read_orders"}, ScopeSeparator: ",", PerShop: true, AuthStyle: oauth2.AuthStyleInParams,
		},
	}...)
}
