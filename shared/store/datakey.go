package store

import (
	"context"
	"time"
)

// DataKeyState is the life-cycle state of a data key.
type DataKeyState string

const (
	// DataKeyPrimary seals new ciphertexts. At most one key is primary.
	DataKeyPrimary DataKeyState = "primary"
	// DataKeyDecryptOnly opens existing ciphertexts but seals nothing new.
	DataKeyDecryptOnly DataKeyState = "decrypt-only"
	// DataKeyDestroyed has had its wrapped material erased; nothing it
	// sealed can be opened again.
	DataKeyDestroyed DataKeyState = "destroyed"
)

// DataKey is a 32-byte data-encryption key as stored: only ever wrapped by the
// key-encryption key (KEK), never in plaintext.
type DataKey struct {
	ID         string
	State      DataKeyState
	Wrapped    []byte // KEK ciphertext of the 32 key bytes; nil once destroyed
	KEKVersion string // the KEK version that produced Wrapped, e.g. a KMS CryptoKeyVersion name
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// DataKeys stores wrapped data keys.
type DataKeys interface {
	// CreateDataKey inserts k. If k.State is [DataKeyPrimary], the current
	// primary (if any) becomes [DataKeyDecryptOnly] in the same transaction.
	// Returns ErrConflict if the id exists.
	CreateDataKey(ctx context.Context, k DataKey) error
	// DataKey returns the key with the given id, or ErrNotFound.
	DataKey(ctx context.Context, id string) (DataKey, error)
	// PrimaryDataKey returns the primary key, or ErrNotFound if there is none.
	PrimaryDataKey(ctx context.Context) (DataKey, error)
	// ListDataKeys returns every key, oldest first.
	ListDataKeys(ctx context.Context) ([]DataKey, error)
	// SetDataKeyState moves a key to state. Moving to [DataKeyDestroyed]
	// erases its wrapped material. Making a key primary demotes the current
	// primary. Returns ErrNotFound if the id does not exist.
	SetDataKeyState(ctx context.Context, id string, state DataKeyState, now time.Time) error
	// RewrapDataKey replaces the wrapped material of a non-destroyed key
	// (re-wrapped under a newer KEK version). Returns ErrNotFound if the
	// key does not exist or is destroyed.
	RewrapDataKey(ctx context.Context, id string, wrapped []byte, kekVersion string, now time.Time) error
}
