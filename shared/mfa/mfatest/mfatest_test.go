package mfatest

import (
	"testing"

	"github.com/fxamacker/cbor/v2"
)

// Every credential's COSE key carries full-length coordinates, as
// go-webauthn requires; with plain virtualwebauthn keys one in 128 fails.
func TestNewCredentialFullLengthCoordinates(t *testing.T) {
	for range 2000 {
		c := NewCredential()
		var key struct {
			X []byte `cbor:"-2,keyasint"`
			Y []byte `cbor:"-3,keyasint"`
		}
		if err := cbor.Unmarshal(c.Key.AttestationData(), &key); err != nil {
			t.Fatal(err)
		}
		if len(key.X) != 32 || len(key.Y) != 32 {
			t.Fatalf("coordinates of %d and %d bytes", len(key.X), len(key.Y))
		}
	}
}
