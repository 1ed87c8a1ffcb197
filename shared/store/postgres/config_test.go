package postgres

import (
	"context"
	"errors"
	"net"
	"testing"
)

// Through the Cloud SQL connector: IAM user, no password, no PostgreSQL TLS
// inside the connector's own TLS tunnel (the connector requires
// sslmode=disable), every connection dialed by the connector.
//
// Controls: INFRA-1
func TestPoolConfigCloudSQL(t *testing.T) {
	dialed := errors.New("dialed through the connector")
	cfg, err := poolConfig(Options{User: "auth@p.iam", Database: "gatehouse", MaxConns: 5},
		func(context.Context) (net.Conn, error) { return nil, dialed })
	if err != nil {
		t.Fatal(err)
	}
	cc := cfg.ConnConfig
	if cc.User != "auth@p.iam" || cc.Database != "gatehouse" || cc.Password != "" || cfg.MaxConns != 5 {
		t.Fatalf("user %q, database %q, password set %v, max %d", cc.User, cc.Database, cc.Password != "", cfg.MaxConns)
	}
	if cc.TLSConfig != nil || len(cc.Fallbacks) != 0 {
		t.Fatalf("PostgreSQL TLS inside the connector: tls %v, %d fallbacks", cc.TLSConfig != nil, len(cc.Fallbacks))
	}
	if _, err := cc.DialFunc(context.Background(), "tcp", "ignored:5432"); !errors.Is(err, dialed) {
		t.Fatalf("dial went elsewhere: %v", err)
	}
}

// A URL keeps its own settings, including sslmode, and a malformed URL is
// refused without echoing it (it may hold a password).
func TestPoolConfigURL(t *testing.T) {
	cfg, err := poolConfig(Options{URL: "postgres://u:pw@db.internal:5432/app?sslmode=require&pool_max_conns=3"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ConnConfig.TLSConfig == nil || cfg.MaxConns != 3 || cfg.ConnConfig.Host != "db.internal" {
		t.Fatalf("tls %v, max %d, host %q", cfg.ConnConfig.TLSConfig != nil, cfg.MaxConns, cfg.ConnConfig.Host)
	}
	if _, err := poolConfig(Options{URL: "postgres://u:secret-pw@%zz"}, nil); err == nil || len(err.Error()) > 60 ||
		errors.Is(err, nil) || containsSecret(err.Error()) {
		t.Fatalf("malformed URL: %v", err)
	}
}

func containsSecret(s string) bool {
	for i := 0; i+len("secret-pw") <= len(s); i++ {
		if s[i:i+len("secret-pw")] == "secret-pw" {
			return true
		}
	}
	return false
}
