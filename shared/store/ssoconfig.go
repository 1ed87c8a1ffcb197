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
