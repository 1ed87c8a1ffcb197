package config

import (
	"context"
	"hash/crc32"
	"net"
	"sync"
	"testing"

	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// fakeVersion is one secret version held by fakeSecretManager.
type fakeVersion struct {
	data    []byte
	crc     *int64     // sent as data_crc32c when non-nil
	code    codes.Code // non-OK: the call fails with this code
	message string
}

// fakeSecretManager is an in-process Secret Manager gRPC server; the real
// client library talks to it over a loopback TCP connection.
type fakeSecretManager struct {
	secretmanagerpb.UnimplementedSecretManagerServiceServer
	mu       sync.Mutex
	versions map[string]fakeVersion
	calls    []string
}

func (f *fakeSecretManager) AccessSecretVersion(_ context.Context, req *secretmanagerpb.AccessSecretVersionRequest) (*secretmanagerpb.AccessSecretVersionResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, req.GetName())
	v, ok := f.versions[req.GetName()]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "Secret Version [%s] not found.", req.GetName())
	}
	if v.code != codes.OK {
		return nil, status.Error(v.code, v.message)
	}
	return &secretmanagerpb.AccessSecretVersionResponse{
		Name:    req.GetName(),
		Payload: &secretmanagerpb.SecretPayload{Data: v.data, DataCrc32C: v.crc},
	}, nil
}

func (f *fakeSecretManager) callCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

// crcOf returns the CRC32C (Castagnoli) checksum Secret Manager sends.
func crcOf(b []byte) *int64 {
	c := int64(crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)))
	return &c
}

// startFakeSecretManager serves versions and returns a real Secret Manager
// client connected to it.
func startFakeSecretManager(t *testing.T, versions map[string]fakeVersion) (*SecretManager, *fakeSecretManager) {
	t.Helper()
	fake := &fakeSecretManager{versions: versions}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	srv := grpc.NewServer()
	secretmanagerpb.RegisterSecretManagerServiceServer(srv, fake)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)

	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatalf("dial fake secret manager: %v", err)
	}
	sm, err := NewSecretManager(context.Background(), option.WithGRPCConn(conn))
	if err != nil {
		t.Fatalf("NewSecretManager: %v", err)
	}
	t.Cleanup(func() { _ = sm.Close() })
	return sm, fake
}
