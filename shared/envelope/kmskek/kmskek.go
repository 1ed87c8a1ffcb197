// Package kmskek is the Cloud KMS key-encryption key of package envelope:
// data keys are wrapped and unwrapped by a symmetric ENCRYPT_DECRYPT
// CryptoKey, with the data-key id as additional authenticated data and
// CRC32C integrity checks in both directions.
package kmskek

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"regexp"

	"cloud.google.com/go/kms/apiv1/kmspb"
	"github.com/googleapis/gax-go/v2"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/gatehouse-dev/gatehouse/shared/envelope"
)

// Client is the part of *kms.KeyManagementClient (cloud.google.com/go/kms/apiv1)
// the KEK uses. The caller creates and closes the client.
type Client interface {
	Encrypt(ctx context.Context, req *kmspb.EncryptRequest, opts ...gax.CallOption) (*kmspb.EncryptResponse, error)
	Decrypt(ctx context.Context, req *kmspb.DecryptRequest, opts ...gax.CallOption) (*kmspb.DecryptResponse, error)
}

// KEK wraps data keys with one Cloud KMS CryptoKey. KMS rotates the key's
// versions; Wrap uses the primary version and reports its name, Unwrap
// works with every enabled version.
//
// Error classes (see envelope.ErrPermanent): Unwrap answered
// INVALID_ARGUMENT twice (wrong additional authenticated data or corrupt
// wrapped key) is envelope.ErrDecrypt, permanent. Everything else is
// envelope.ErrUnavailable, retryable: UNAVAILABLE, DEADLINE_EXCEEDED,
// RESOURCE_EXHAUSTED (quota), an ended context, a CRC32C mismatch in either
// direction (corruption in transit: the same call is expected to succeed
// again), and also PERMISSION_DENIED, NOT_FOUND and FAILED_PRECONDITION
// (a disabled key version): these are deployment faults that an operator
// fixes, and must not make every stored credential INVALID.
type KEK struct {
	client Client
	key    string
}

var _ envelope.KEK = (*KEK)(nil)

var keyNameRE = regexp.MustCompile(`^projects/[^/]+/locations/[^/]+/keyRings/[^/]+/cryptoKeys/[^/]+$`)

// New returns a KEK using the CryptoKey keyName, of the form
// projects/P/locations/L/keyRings/R/cryptoKeys/K.
func New(client Client, keyName string) (*KEK, error) {
	if client == nil {
		return nil, errors.New("kmskek: nil client")
	}
	if !keyNameRE.MatchString(keyName) {
		return nil, fmt.Errorf("kmskek: %q is not a CryptoKey name", keyName)
	}
	return &KEK{client: client, key: keyName}, nil
}

// Wrap encrypts plaintext with aad under the key's primary version and
// returns the ciphertext and the CryptoKeyVersion name that produced it.
func (k *KEK) Wrap(ctx context.Context, plaintext, aad []byte) ([]byte, string, error) {
	resp, err := k.client.Encrypt(ctx, &kmspb.EncryptRequest{
		Name:                              k.key,
		Plaintext:                         plaintext,
		AdditionalAuthenticatedData:       aad,
		PlaintextCrc32C:                   crc32c(plaintext),
		AdditionalAuthenticatedDataCrc32C: crc32c(aad),
	})
	if err != nil {
		return nil, "", fmt.Errorf("kms encrypt: %w", envelope.Unavailable(err))
	}
	if err := checkEncrypt(resp); err != nil {
		return nil, "", fmt.Errorf("kms encrypt: %w", err)
	}
	return resp.GetCiphertext(), resp.GetName(), nil
}

// Unwrap decrypts what Wrap returned for the same aad. KMS answers
// INVALID_ARGUMENT both for a wrong aad or ciphertext and for a request
// corrupted in transit (checksum mismatch), so that answer is asked once
// more before it is taken as permanent.
func (k *KEK) Unwrap(ctx context.Context, wrapped, aad []byte) ([]byte, error) {
	req := &kmspb.DecryptRequest{
		Name:                              k.key,
		Ciphertext:                        wrapped,
		AdditionalAuthenticatedData:       aad,
		CiphertextCrc32C:                  crc32c(wrapped),
		AdditionalAuthenticatedDataCrc32C: crc32c(aad),
	}
	resp, err := k.client.Decrypt(ctx, req)
	if status.Code(err) == codes.InvalidArgument {
		resp, err = k.client.Decrypt(ctx, req)
	}
	if status.Code(err) == codes.InvalidArgument {
		return nil, fmt.Errorf("kms decrypt: %w: %w", envelope.ErrDecrypt, err)
	}
	if err != nil {
		return nil, fmt.Errorf("kms decrypt: %w", envelope.Unavailable(err))
	}
	if !crcMatches(resp.GetPlaintextCrc32C(), resp.GetPlaintext()) {
		return nil, fmt.Errorf("kms decrypt: %w: plaintext checksum mismatch", envelope.ErrUnavailable)
	}
	return resp.GetPlaintext(), nil
}

// checkEncrypt verifies that KMS saw the request intact and that the
// response arrived intact.
func checkEncrypt(resp *kmspb.EncryptResponse) error {
	if !resp.GetVerifiedPlaintextCrc32C() || !resp.GetVerifiedAdditionalAuthenticatedDataCrc32C() {
		return fmt.Errorf("%w: request checksums not verified", envelope.ErrUnavailable)
	}
	if !crcMatches(resp.GetCiphertextCrc32C(), resp.GetCiphertext()) {
		return fmt.Errorf("%w: ciphertext checksum mismatch", envelope.ErrUnavailable)
	}
	if resp.GetName() == "" {
		return fmt.Errorf("%w: no key version in response", envelope.ErrUnavailable)
	}
	return nil
}

func crc32c(b []byte) *wrapperspb.Int64Value {
	return wrapperspb.Int64(int64(crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli))))
}

// crcMatches requires the checksum to be present and right.
func crcMatches(got *wrapperspb.Int64Value, b []byte) bool {
	return got != nil && got.GetValue() == crc32c(b).GetValue()
}
