package store

import (
	"context"
	"time"
)

// States of an [SSODomain].
const (
	// DomainPending: claimed, its DNS record not seen yet.
	DomainPending = "pending"
	// DomainVerified: the record was seen; the organization's identity
	// provider speaks for addresses at the domain. At most one
	// organization has a domain verified.
	DomainVerified = "verified"
	// DomainDisabled: a re-check found the record gone; verifying again
	// restores it.
	DomainDisabled = "disabled"
)

// SSODomain is an e-mail domain an organization claims for its single
// sign-on, proven by a DNS TXT record holding Token (AUTH-13).
type SSODomain struct {
	ID         string
	OrgID      string
	Domain     string // lower-case ASCII name (IDNA A-labels), no trailing dot
	Token      string // the random value the TXT record must hold
	Status     string // DomainPending, DomainVerified or DomainDisabled
	CreatedBy  string // user id
	CreatedAt  time.Time
	VerifiedAt time.Time // last verification; zero if never verified
	CheckedAt  time.Time // last DNS check that found the record; zero if none
}

// SSODomains stores organizations' domain claims.
type SSODomains interface {
	// CreateSSODomain inserts d as pending. Returns ErrConflict if the
	// organization claims the domain already or another organization has
	// it verified.
	CreateSSODomain(ctx context.Context, d SSODomain) error
	// SSODomains returns the organization's domains, by name.
	SSODomains(ctx context.Context, orgID string) ([]SSODomain, error)
	// SSODomain returns the organization's domain with this id, or
	// ErrNotFound (another organization's included).
	SSODomain(ctx context.Context, orgID, id string) (SSODomain, error)
	// VerifySSODomain marks the organization's domain verified at at.
	// Returns ErrNotFound, or ErrConflict if another organization has the
	// domain verified: of concurrent verifications of one domain by
	// several organizations exactly one succeeds.
	VerifySSODomain(ctx context.Context, orgID, id string, at time.Time) error
	// VerifiedSSODomain returns the verified claim of domain, whichever
	// organization holds it, or ErrNotFound.
	VerifiedSSODomain(ctx context.Context, domain string) (SSODomain, error)
	// SSODomainsDue returns up to limit verified domains whose last check
	// is before before, least recently checked first.
	SSODomainsDue(ctx context.Context, before time.Time, limit int) ([]SSODomain, error)
	// CheckedSSODomain records that a re-check found a verified domain's
	// record at at. Returns ErrNotFound if the domain is not verified.
	CheckedSSODomain(ctx context.Context, id string, at time.Time) error
	// DisableSSODomain marks a verified domain disabled. Returns
	// ErrNotFound if the domain is not verified.
	DisableSSODomain(ctx context.Context, id string) error
	// DeleteSSODomain deletes the organization's domain and returns it.
	// Returns ErrNotFound.
	DeleteSSODomain(ctx context.Context, orgID, id string) (SSODomain, error)
}
