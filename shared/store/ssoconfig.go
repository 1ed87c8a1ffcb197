package store

import (
	"context"
	"time"
)

// SSOConfig is an organization's enterprise OIDC single sign-on. It speaks
// only for the organization's verified domains ([SSODomains]). ClientSecret
// is an envelope ciphertext (purpose credential, binding {OrgID, ID,
// "sso_configs.client_secret"}).
type SSOConfig struct {
	ID            string
	OrgID         string
	Issuer        string
	ClientID      string
	ClientSecret  []byte
	ProvisionRole string // role given on SSO sign-in to a user not yet a member; "" for none
	UpdatedBy     string // user id
	CreatedAt     time.Time
	UpdatedAt     time.Time
	Discovery     SSODiscovery // what the issuer published when the configuration was saved
}

// SSODiscovery is what an issuer's discovery document said when its
// configuration was saved: sign-in uses it and never fetches the document
// on an anonymous request. A zero AuthURL means the configuration predates
// discovery at save time and must be saved again before it signs anyone in.
type SSODiscovery struct {
	AuthURL      string    `json:"authorization_endpoint"`
	TokenURL     string    `json:"token_endpoint"`
	JWKSURL      string    `json:"jwks_uri"`
	UserInfoURL  string    `json:"userinfo_endpoint,omitempty"`
	Algorithms   []string  `json:"id_token_signing_alg_values_supported,omitempty"`
	DiscoveredAt time.Time `json:"discovered_at"`
}

// SSOConfigs stores single sign-on configurations, at most one per organization.
type SSOConfigs interface {
	// PutSSOConfig inserts c or, if a configuration with c.ID exists in
	// c.OrgID, replaces it (keeping CreatedAt). Returns ErrConflict if the
	// organization has a configuration with another id, or c.ID belongs
	// to another organization.
	PutSSOConfig(ctx context.Context, c SSOConfig) error
	// SSOConfig returns the organization's configuration, or ErrNotFound.
	SSOConfig(ctx context.Context, orgID string) (SSOConfig, error)
	// DeleteSSOConfig deletes the organization's configuration. Returns
	// ErrNotFound if there is none.
	DeleteSSOConfig(ctx context.Context, orgID string) error
}
