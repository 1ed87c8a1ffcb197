package kmskek_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	kms "cloud.google.com/go/kms/apiv1"
	"google.golang.org/grpc/codes"

	"github.com/gatehouse-dev/gatehouse/shared/envelope"
	"github.com/gatehouse-dev/gatehouse/shared/envelope/internal/fakekms"
	"github.com/gatehouse-dev/gatehouse/shared/envelope/kmskek"
)

var (
	ctx = context.Background()
	dk  = bytes.Repeat([]byte{0x5a}, envelope.KeySize)
	aad = []byte("gatehouse/data-key/v1/dk_1")
)

// start serves a fake KMS and returns it with a KEK using the real client.
// Without retries, the client returns the first failure at once.
func start(tb testing.TB, retries bool) (*fakekms.Server, *kmskek.KEK) {
	tb.Helper()
	srv, client := fakekms.Start(tb)
	if !retries {
		noRetries(client)
	}
	kek, err := kmskek.New(client, fakekms.KeyName)
	if err != nil {
		tb.Fatal(err)
	}
	return srv, kek
}

func noRetries(c *kms.KeyManagementClient) {
	c.CallOptions.Encrypt, c.CallOptions.Decrypt = nil, nil
}

// Controls: CRED-3, CRED-8
func TestWrapUnwrapAcrossKEKVersions(t *testing.T) {
	srv, kek := start(t, true)
	w1, v1, err := kek.Wrap(ctx, dk, aad)
	if err != nil {
		t.Fatal(err)
	}
	srv.AddVersion()
	w2, v2, err := kek.Wrap(ctx, dk, aad)
	if err != nil {
		t.Fatal(err)
	}
	if v1 != fakekms.KeyName+"/cryptoKeyVersions/1" || v2 != fakekms.KeyName+"/cryptoKeyVersions/2" {
		t.Fatalf("versions %q, %q: want versions 1 and 2", v1, v2)
	}
	for _, w := range [][]byte{w1, w2} {
		if bytes.Contains(w, dk) {
			t.Fatal("wrapped key contains the key")
		}
		got, err := kek.Unwrap(ctx, w, aad)
		if err != nil || !bytes.Equal(got, dk) {
			t.Fatalf("Unwrap = %x, %v", got, err)
		}
	}
}

// Controls: CRED-3, CRED-5
func TestUnwrapOfWrongDataIsPermanent(t *testing.T) {
	srv, kek := start(t, true)
	w, _, err := kek.Wrap(ctx, dk, aad)
	if err != nil {
		t.Fatal(err)
	}
	flipped := bytes.Clone(w)
	flipped[len(flipped)-1] ^= 1
	tests := []struct {
		name    string
		wrapped []byte
		aad     []byte
	}{
		{name: "other data key id", wrapped: w, aad: []byte("gatehouse/data-key/v1/dk_2")},
		{name: "no aad", wrapped: w},
		{name: "tampered wrapped key", wrapped: flipped, aad: aad},
		{name: "garbage", wrapped: []byte("not a ciphertext"), aad: aad},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, dec0 := srv.Calls()
			_, err := kek.Unwrap(ctx, tt.wrapped, tt.aad)
			if !errors.Is(err, envelope.ErrDecrypt) || !errors.Is(err, envelope.ErrPermanent) {
				t.Fatalf("Unwrap error %v, want ErrDecrypt", err)
			}
			if _, dec := srv.Calls(); dec-dec0 != 2 {
				t.Fatalf("%d decrypt calls, want 2 (INVALID_ARGUMENT is asked twice)", dec-dec0)
			}
		})
	}
}

// Controls: CRED-5
func TestIntegrityChecksAreRetryable(t *testing.T) {
	tests := []struct {
		name  string
		fault fakekms.Fault
		op    string
	}{
		{name: "encrypt response ciphertext_crc32c wrong", fault: fakekms.Fault{BadCiphertextCRC: true}, op: "wrap"},
		{name: "encrypt request checksums not verified", fault: fakekms.Fault{Unverified: true}, op: "wrap"},
		{name: "decrypt response plaintext_crc32c wrong", fault: fakekms.Fault{BadPlaintextCRC: true}, op: "unwrap"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, kek := start(t, true)
			w, _, err := kek.Wrap(ctx, dk, aad)
			if err != nil {
				t.Fatal(err)
			}
			srv.SetFault(tt.fault)
			if tt.op == "wrap" {
				_, _, err = kek.Wrap(ctx, dk, aad)
			} else {
				_, err = kek.Unwrap(ctx, w, aad)
			}
			if !errors.Is(err, envelope.ErrUnavailable) || errors.Is(err, envelope.ErrPermanent) {
				t.Fatalf("%s error %v, want ErrUnavailable", tt.op, err)
			}
			srv.SetFault(fakekms.Fault{})
			if got, err := kek.Unwrap(ctx, w, aad); err != nil || !bytes.Equal(got, dk) {
				t.Fatalf("after the fault: Unwrap = %x, %v", got, err)
			}
		})
	}
}

// Controls: CRED-5, APP-5
func TestServiceFailuresAreRetryable(t *testing.T) {
	tests := []struct {
		name string
		code codes.Code
	}{
		{name: "unavailable", code: codes.Unavailable},
		{name: "deadline exceeded", code: codes.DeadlineExceeded},
		{name: "quota", code: codes.ResourceExhausted},
		{name: "aborted", code: codes.Aborted},
		{name: "internal", code: codes.Internal},
		{name: "permission denied (deployment fault)", code: codes.PermissionDenied},
		{name: "key version disabled", code: codes.FailedPrecondition},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, kek := start(t, false)
			w, _, err := kek.Wrap(ctx, dk, aad)
			if err != nil {
				t.Fatal(err)
			}
			srv.SetFault(fakekms.Fault{Code: tt.code})
			_, err = kek.Unwrap(ctx, w, aad)
			if !errors.Is(err, envelope.ErrUnavailable) || errors.Is(err, envelope.ErrPermanent) {
				t.Errorf("Unwrap error %v, want ErrUnavailable", err)
			}
			_, _, err = kek.Wrap(ctx, dk, aad)
			if !errors.Is(err, envelope.ErrUnavailable) || errors.Is(err, envelope.ErrPermanent) {
				t.Errorf("Wrap error %v, want ErrUnavailable", err)
			}
		})
	}
}

// With its default settings the client retries UNAVAILABLE itself; when the
// caller's deadline ends first, the error is still retryable.
//
// Controls: CRED-5, APP-5
func TestClientRetriesThenGivesUpRetryably(t *testing.T) {
	srv, kek := start(t, true)
	w, _, err := kek.Wrap(ctx, dk, aad)
	if err != nil {
		t.Fatal(err)
	}
	srv.SetFault(fakekms.Fault{Code: codes.Unavailable, Times: 2})
	if got, err := kek.Unwrap(ctx, w, aad); err != nil || !bytes.Equal(got, dk) {
		t.Fatalf("Unwrap after two UNAVAILABLE = %x, %v; want success on retry", got, err)
	}
	srv.SetFault(fakekms.Fault{Code: codes.Unavailable})
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if _, err := kek.Unwrap(short, w, aad); !errors.Is(err, envelope.ErrUnavailable) || errors.Is(err, envelope.ErrPermanent) {
		t.Fatalf("Unwrap against a KMS that stays down: %v, want ErrUnavailable", err)
	}
}

func TestNewRejectsBadKeyName(t *testing.T) {
	_, client := fakekms.Start(t)
	for _, name := range []string{
		"",
		"projects/p/locations/l/keyRings/r",
		fakekms.KeyName + "/cryptoKeyVersions/1",
		"projects//locations/l/keyRings/r/cryptoKeys/k",
	} {
		if _, err := kmskek.New(client, name); err == nil {
			t.Errorf("New accepted key name %q", name)
		}
	}
	if _, err := kmskek.New(nil, fakekms.KeyName); err == nil {
		t.Error("New accepted a nil client")
	}
}
