// Package mfatest holds test helpers for passkeys.
package mfatest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"

	"github.com/descope/virtualwebauthn"
)

// NewCredential returns a software P-256 passkey credential.
//
// virtualwebauthn encodes the public key's coordinates with big.Int.Bytes,
// which drops leading zero bytes, and go-webauthn rightly refuses a
// coordinate shorter than 32 bytes. About one key in 128 has such a
// coordinate, so NewCredential draws keys until both are full length.
func NewCredential() virtualwebauthn.Credential {
	for {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			panic(err)
		}
		if len(k.X.Bytes()) != 32 || len(k.Y.Bytes()) != 32 {
			continue
		}
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			panic(err)
		}
		return virtualwebauthn.NewCredentialWithImportedKey(virtualwebauthn.KeyTypeEC2, der)
	}
}
