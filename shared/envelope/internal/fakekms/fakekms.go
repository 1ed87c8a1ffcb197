// Package fakekms is an in-process Cloud KMS for tests: a real gRPC server
// speaking the KeyManagementService protocol on 127.0.0.1, which really
// encrypts with AES-256-GCM and the request's additional authenticated data,
// keeps several key versions, checks and answers the CRC32C integrity
// fields, counts calls and can be told to fail.
package fakekms

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"fmt"
	"hash/crc32"
	"net"
	"sync"
	"testing"

	kms "cloud.google.com/go/kms/apiv1"
	"cloud.google.com/go/kms/apiv1/kmspb"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// KeyName is the CryptoKey the fake serves.
const KeyName = "projects/test/locations/global/keyRings/gatehouse/cryptoKeys/data-keys"

// Fault makes the server misbehave. The zero value behaves.
type Fault struct {
	// Code, unless codes.OK, fails calls with that status.
	Code codes.Code
	// Times limits Code to the next Times calls; 0 means every call.
	Times int
	// BadCiphertextCRC makes Encrypt answer a wrong ciphertext_crc32c.
	BadCiphertextCRC bool
	// Unverified makes Encrypt answer verified_*_crc32c = false.
	Unverified bool
	// BadPlaintextCRC makes Decrypt answer a wrong plaintext_crc32c.
	BadPlaintextCRC bool
}

// Server is the fake KMS.
type Server struct {
	kmspb.UnimplementedKeyManagementServiceServer

	mu       sync.Mutex
	versions []cipher.AEAD // version n is versions[n-1]; the last is primary
	fault    Fault
	encrypts int
	decrypts int
}

// Start serves a fake KMS with one key version and returns it with a real
// KMS client connected to it. Both stop when the test ends.
func Start(tb testing.TB) (*Server, *kms.KeyManagementClient) {
	tb.Helper()
	s := &Server{}
	s.AddVersion()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("listen: %v", err)
	}
	gs := grpc.NewServer()
	kmspb.RegisterKeyManagementServiceServer(gs, s)
	go gs.Serve(lis)
	tb.Cleanup(gs.Stop)
	client, err := kms.NewKeyManagementClient(context.Background(),
		option.WithEndpoint(lis.Addr().String()),
		option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
	if err != nil {
		tb.Fatalf("new KMS client: %v", err)
	}
	tb.Cleanup(func() { client.Close() })
	return s, client
}

// AddVersion adds a key version, which becomes primary, as a KMS rotation does.
func (s *Server) AddVersion() {
	key := make([]byte, 32)
	rand.Read(key)
	block, err := aes.NewCipher(key)
	if err != nil {
		panic(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.versions = append(s.versions, aead)
}

// PrimaryVersion returns the name of the version Encrypt uses now.
func (s *Server) PrimaryVersion() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return versionName(len(s.versions))
}

// SetFault replaces the current fault.
func (s *Server) SetFault(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fault = f
}

// Calls returns how many Encrypt and Decrypt calls reached the server.
func (s *Server) Calls() (encrypts, decrypts int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.encrypts, s.decrypts
}

// Encrypt implements KeyManagementServiceServer.
func (s *Server) Encrypt(_ context.Context, req *kmspb.EncryptRequest) (*kmspb.EncryptResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.encrypts++
	if err := s.injected(); err != nil {
		return nil, err
	}
	if req.GetName() != KeyName {
		return nil, status.Errorf(codes.NotFound, "no key %q", req.GetName())
	}
	if !crcMatches(req.GetPlaintextCrc32C(), req.GetPlaintext()) ||
		!crcMatches(req.GetAdditionalAuthenticatedDataCrc32C(), req.GetAdditionalAuthenticatedData()) {
		return nil, status.Error(codes.InvalidArgument, "request checksum mismatch")
	}
	n := len(s.versions)
	nonce := make([]byte, 12)
	rand.Read(nonce)
	ct := append([]byte{byte(n)}, nonce...)
	ct = s.versions[n-1].Seal(ct, nonce, req.GetPlaintext(), req.GetAdditionalAuthenticatedData())
	crc := crc32c(ct)
	if s.fault.BadCiphertextCRC {
		crc++
	}
	return &kmspb.EncryptResponse{
		Name:                    versionName(n),
		Ciphertext:              ct,
		CiphertextCrc32C:        wrapperspb.Int64(crc),
		VerifiedPlaintextCrc32C: req.GetPlaintextCrc32C() != nil && !s.fault.Unverified,
		VerifiedAdditionalAuthenticatedDataCrc32C: req.GetAdditionalAuthenticatedDataCrc32C() != nil && !s.fault.Unverified,
	}, nil
}

// Decrypt implements KeyManagementServiceServer.
func (s *Server) Decrypt(_ context.Context, req *kmspb.DecryptRequest) (*kmspb.DecryptResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.decrypts++
	if err := s.injected(); err != nil {
		return nil, err
	}
	if req.GetName() != KeyName {
		return nil, status.Errorf(codes.NotFound, "no key %q", req.GetName())
	}
	ct := req.GetCiphertext()
	if !crcMatches(req.GetCiphertextCrc32C(), ct) ||
		!crcMatches(req.GetAdditionalAuthenticatedDataCrc32C(), req.GetAdditionalAuthenticatedData()) {
		return nil, status.Error(codes.InvalidArgument, "request checksum mismatch")
	}
	if len(ct) < 1+12 || int(ct[0]) < 1 || int(ct[0]) > len(s.versions) {
		return nil, status.Error(codes.InvalidArgument, "ciphertext is invalid")
	}
	pt, err := s.versions[ct[0]-1].Open(nil, ct[1:13], ct[13:], req.GetAdditionalAuthenticatedData())
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, "decryption failed")
	}
	crc := crc32c(pt)
	if s.fault.BadPlaintextCRC {
		crc++
	}
	return &kmspb.DecryptResponse{Plaintext: pt, PlaintextCrc32C: wrapperspb.Int64(crc)}, nil
}

// injected returns the fault's status error, if any is due. s.mu is held.
func (s *Server) injected() error {
	if s.fault.Code == codes.OK {
		return nil
	}
	code := s.fault.Code
	if s.fault.Times > 0 {
		s.fault.Times--
		if s.fault.Times == 0 {
			s.fault.Code = codes.OK
		}
	}
	return status.Errorf(code, "injected fault")
}

func versionName(n int) string { return fmt.Sprintf("%s/cryptoKeyVersions/%d", KeyName, n) }

func crc32c(b []byte) int64 { return int64(crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli))) }

// crcMatches accepts an absent checksum, as KMS does.
func crcMatches(want *wrapperspb.Int64Value, b []byte) bool {
	return want == nil || want.GetValue() == crc32c(b)
}
