package store

import (
	"context"
	"time"
)

// SAMLConfig is an organization's SAML 2.0 single sign-on, Gatehouse being
// the service provider. Like [SSOConfig] it speaks only for the
// organization's verified domains ([SSODomains]). IDPMetadata is the
// identity provider's metadata document (public: entity id, endpoints,
// signing certificates), as uploaded or as fetched from MetadataURL when
// the configuration was saved.
type SAMLConfig struct {
	ID                string
	OrgID             string
	IDPEntityID       string
	IDPMetadata       string
	MetadataURL       string // "" when the metadata was uploaded
	ProvisionRole     string // role given on sign-in to a user not yet a member; "" for none
	AllowIDPInitiated bool   // accept responses no request of Gatehouse asked for
	UpdatedBy         string // user id
	CreatedAt         time.Time
	UpdatedAt         time.Time
}

// SAMLConfigs stores SAML configurations, at most one per organization, and
// the replay cache of the assertions they accepted.
type SAMLConfigs interface {
	// PutSAMLConfig inserts c or, if the organization has a configuration,
	// replaces it (keeping its ID and CreatedAt). Returns ErrNotFound if the
	// organization does not exist.
	PutSAMLConfig(ctx context.Context, c SAMLConfig) error
	// SAMLConfig returns the organization's configuration, or ErrNotFound.
	SAMLConfig(ctx context.Context, orgID string) (SAMLConfig, error)
	// DeleteSAMLConfig deletes the organization's configuration. Returns
	// ErrNotFound if there is none.
	DeleteSAMLConfig(ctx context.Context, orgID string) error
	// UseSAMLAssertion records the assertion assertionID of orgID's identity
	// provider as consumed until expiresAt. Of any number of concurrent
	// calls with the same pair exactly one succeeds; the others, and every
	// later call, return ErrUsed.
	UseSAMLAssertion(ctx context.Context, orgID, assertionID string, expiresAt time.Time) error
	// PurgeSAMLAssertions forgets assertions that expired before before.
	PurgeSAMLAssertions(ctx context.Context, before time.Time) (int64, error)
}
