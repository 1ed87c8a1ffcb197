package envelope

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"fmt"
)

// Purpose names what a ciphertext is for. It is the HKDF info string that
// derives the purpose key from the data key, and it is part of the associated
// data, so a ciphertext or key of one purpose is useless for another
// (CRED-2). A purpose changes version, never meaning: a new derivation is a
// new constant.
type Purpose string

// The purposes. Only these are accepted by [Keyring.Seal] and [Keyring.Open].
const (
	// PurposeCredential seals third-party tokens and other customer secrets.
	PurposeCredential Purpose = "gatehouse/credential/v1"
	// PurposeTOTP seals TOTP shared secrets.
	PurposeTOTP Purpose = "gatehouse/totp/v1"
	// PurposeOAuthState seals OAuth state and PKCE verifiers.
	PurposeOAuthState Purpose = "gatehouse/oauth-state/v1"
	// PurposeSigningKey seals token-signing private keys.
	PurposeSigningKey Purpose = "gatehouse/signing-key/v1"
	// PurposeAuditCheckpoint seals the key that signs audit-log checkpoints.
	PurposeAuditCheckpoint Purpose = "gatehouse/audit-checkpoint/v1"
)

const numPurposes = 5

// allPurposes lists every Purpose in a fixed order; purposeIndex maps into it.
func allPurposes() [numPurposes]Purpose {
	return [numPurposes]Purpose{PurposeCredential, PurposeTOTP, PurposeOAuthState, PurposeSigningKey, PurposeAuditCheckpoint}
}

func purposeIndex(p Purpose) (int, error) {
	for i, q := range allPurposes() {
		if p == q {
			return i, nil
		}
	}
	return 0, fmt.Errorf("envelope: unknown purpose %q", string(p))
}

// hkdfSHA256 is the one HKDF instantiation of the package (RFC 5869 with
// SHA-256). Purpose keys use it with no salt: the data key is already 32
// uniformly random bytes, so extraction needs none.
func hkdfSHA256(secret, salt []byte, info string, n int) ([]byte, error) {
	return hkdf.Key(sha256.New, secret, salt, info, n)
}

// purposeAEADs derives the AES-256-GCM of every purpose from one data key.
// The derived bytes are cleared once the cipher has expanded them.
func purposeAEADs(dk *Key) ([numPurposes]cipher.AEAD, error) {
	var out [numPurposes]cipher.AEAD
	for i, p := range allPurposes() {
		pk, err := hkdfSHA256(dk.Bytes(), nil, string(p), KeySize)
		if err != nil {
			return out, fmt.Errorf("derive %s key: %w", p, err)
		}
		out[i], err = newGCM(pk)
		clear(pk)
		if err != nil {
			return out, fmt.Errorf("derive %s key: %w", p, err)
		}
	}
	return out, nil
}

// newGCM returns AES-256-GCM with a 12-byte nonce and 16-byte tag.
func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}
