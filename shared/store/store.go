// Package store holds Gatehouse's domain types, the sentinel errors every
// store implementation returns, and the [Store] interface that the functions
// program against. Implementations live in packages named after what they
// wrap: store/postgres and store/sqlite, both built on store/sqlstore, and
// both held to the conformance suite in store/storetest.
package store

import (
	"context"
	"errors"
)

// Sentinel errors. Implementations translate driver errors into these once,
// at the driver boundary; callers compare with [errors.Is].
var (
	// ErrNotFound means the record does not exist (or is not visible to the caller).
	ErrNotFound = errors.New("store: not found")
	// ErrConflict means a uniqueness rule rejected the write.
	ErrConflict = errors.New("store: conflict")
	// ErrUsed means a single-use record was already consumed.
	ErrUsed = errors.New("store: already used")
	// ErrExpired means the record exists but is past its expiry.
	ErrExpired = errors.New("store: expired")
	// ErrDisabled means the user is disabled by an operator: no session
	// may start for it.
	ErrDisabled = errors.New("store: user disabled")
)

// Store is everything Gatehouse keeps. Each domain adds its methods as an
// embedded interface defined beside its types.
type Store interface {
	DataKeys
	AuditLog
	RateLimits
	OneTimeTokens
	Users
	Sessions
	SigningKeys
	Webhooks
	Connections
	SSOConfigs
	SAMLConfigs
	SSODomains
	Identities
	Orgs
	MFAFactors
	Rotation
	SealedValues
	SCIM
	OrgPolicies
	AccessReviews

	// Tx runs fn inside one database transaction. fn receives a Store bound
	// to that transaction; if fn returns an error, or panics, every write
	// fn made is rolled back. Tx on a transaction-bound Store runs fn in the
	// same transaction. fn may run more than once when the database asks for
	// a retry (serialization failure), so it must not have side effects
	// outside the store.
	Tx(ctx context.Context, fn func(tx Store) error) error

	// Ping reports whether the database answers.
	Ping(ctx context.Context) error

	// Close releases the connections. The Store must not be used after.
	Close()
}
