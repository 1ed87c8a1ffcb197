package envelope

import (
	"errors"
	"fmt"
)

// Every error Seal, Open, Rotate, Destroy and Rewrap return for a failure of
// the data or of a dependency is in exactly one of two classes, tested with
// [errors.Is]:
//
//   - [ErrPermanent]: retrying cannot help. The ciphertext is malformed
//     ([ErrMalformed]), was tampered with, moved to another binding or sealed
//     under a key this keyring cannot find or unwrap ([ErrDecrypt]), or its
//     data key was destroyed ([ErrKeyDestroyed]). A caller holding a
//     credential marks it INVALID and asks for re-authorization (CRED-5).
//   - [ErrUnavailable]: a dependency failed and the same call may succeed
//     later. KMS answered UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED
//     (quota) or any other code that says nothing about the bytes, a KMS
//     integrity checksum did not match (corruption in transit), the caller's
//     context ended, or the store failed. The credential stays as it is.
//
// An error in neither class is a mistake of the caller (an unknown
// [Purpose], destroying the primary key, an unknown id given to Destroy or
// Rewrap: [store.ErrNotFound]) or a failing random source; it must not be
// retried blindly and says nothing about the stored data.
var (
	// ErrPermanent is the class of failures that retrying cannot fix.
	ErrPermanent = errors.New("envelope: permanent failure")
	// ErrUnavailable is the class of failures that a later retry may fix.
	ErrUnavailable = errors.New("envelope: temporarily unavailable")

	// ErrMalformed means the bytes are not a ciphertext of a known format.
	// It is in class [ErrPermanent].
	ErrMalformed error = &classError{"envelope: malformed ciphertext", ErrPermanent}
	// ErrDecrypt means authentication failed: wrong key, wrong binding or
	// tampered bytes, or a data key that no longer exists or cannot be
	// unwrapped. It is in class [ErrPermanent].
	ErrDecrypt error = &classError{"envelope: decryption failed", ErrPermanent}
	// ErrKeyDestroyed means the data key was destroyed. It is in class
	// [ErrPermanent].
	ErrKeyDestroyed error = &classError{"envelope: data key destroyed", ErrPermanent}
)

// classError is a sentinel that also matches its class with [errors.Is].
type classError struct {
	msg   string
	class error
}

func (e *classError) Error() string { return e.msg }
func (e *classError) Unwrap() error { return e.class }

// Unavailable marks err as retryable unless it is already classified. KEK
// backends use it for failures of the service they call; a context error is
// always retryable.
func Unavailable(err error) error {
	if err == nil || errors.Is(err, ErrPermanent) || errors.Is(err, ErrUnavailable) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}
