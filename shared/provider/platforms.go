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
}

// Names of the built-in platforms.
const (
	GoogleBusinessProfile = "google_business_profile"
	GoogleAds             = "google_ads"
	LinkedIn              = "linkedin"
	MetaAds               = "meta_ads"
	Shopify               = "shopify"
)

// googleOffline makes Google issue a refresh token on every consent
// (OAUTH-4): offline access, and the consent screen even for a user who
// already granted the app, since Google only returns a refresh token then.
func googleOffline() map[string]string {
	return map[string]string{"access_type": "offline", "prompt": "consent", "include_granted_scopes": "false"}
}

// Builtin returns the platforms Gatehouse knows, with production endpoints.
func Builtin() []Platform {
	const google = "https://accounts.google.com"
	return []Platform{
		{
			Name: GoogleBusinessProfile, DisplayName: "Google Business Profile",
			AuthURL: google + "/o/oauth2/v2/auth", TokenURL: "https://oauth2.googleapis.com/token",
			RevokeURL: "https://oauth2.googleapis.com/revoke", Revocation: RevokeRFC7009, Issuer: google,
			// The Business Profile APIs offer no read-only scope.
			Scopes: []string{"https://www.googleapis.com/auth/business.manage"}, ScopeSeparator: " ",
			AuthParams: googleOffline(), AuthStyle: oauth2.AuthStyleInParams,
		},
		{
			Name: GoogleAds, DisplayName: "Google Ads",
			AuthURL: google + "/o/oauth2/v2/auth", TokenURL: "https://oauth2.googleapis.com/token",
			RevokeURL: "https://oauth2.googleapis.com/revoke", Revocation: RevokeRFC7009, Issuer: google,
			// The Google Ads API has exactly one scope; read-only use is
			// enforced by the product, not the grant.
			Scopes: []string{"https://www.googleapis.com/auth/adwords"}, ScopeSeparator: " ",
			AuthParams: googleOffline(), AuthStyle: oauth2.AuthStyleInParams,
		},
		{
			Name: LinkedIn, DisplayName: "LinkedIn",
			AuthURL: "https://www.linkedin.com/oauth/v2/authorization", TokenURL: "https://www.linkedin.com/oauth/v2/accessToken",
			RevokeURL: "https://www.linkedin.com/oauth/v2/revoke", Revocation: RevokeRFC7009,
			Scopes: []string{"r_ads", "r_ads_reporting"}, ScopeSeparator: " ", AuthStyle: oauth2.AuthStyleInParams,
		},
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
	}
}
