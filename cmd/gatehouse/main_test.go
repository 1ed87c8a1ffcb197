package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/gatehouse-dev/gatehouse/shared/eventhooks"
)

// run executes the CLI with args and returns its output.
func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := newRoot()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	return out.String(), err
}

func TestServeMountsEveryFunction(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("GATEHOUSE_DATA_DIR", dir)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var out bytes.Buffer
	done := make(chan error, 1)
	go func() { done <- serve(ctx, ln, &out, false) }()
	base := "http://" + ln.Addr().String()
	for _, path := range []string{"/auth/healthz", "/oauth/healthz", "/webhooks/healthz", "/rotate/healthz", "/dev/mailbox",
		"/.well-known/openid-configuration", "/.well-known/oauth-authorization-server", "/auth/.well-known/openid-configuration"} {
		var resp *http.Response
		for range 50 {
			if resp, err = http.Get(base + path); err == nil {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %d, want 200", path, resp.StatusCode)
		}
		if path != "/dev/mailbox" && resp.Header.Get("Strict-Transport-Security") == "" {
			t.Errorf("GET %s: no security headers", path)
		}
	}
	// Outside every mount, and inside one with the wrong method: JSON errors.
	for _, c := range []struct {
		method, path, code string
		status             int
	}{
		{"GET", "/nope", "not_found", http.StatusNotFound},
		{"GET", "/auth/nope", "not_found", http.StatusNotFound},
		{"DELETE", "/webhooks/stripe", "method_not_allowed", http.StatusMethodNotAllowed},
	} {
		req, _ := http.NewRequest(c.method, base+c.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body struct {
			Error struct{ Code string } `json:"error"`
		}
		derr := json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != c.status || derr != nil || body.Error.Code != c.code || resp.Header.Get("Strict-Transport-Security") == "" {
			t.Errorf("%s %s: %d %+v (%v), want %d %s with security headers", c.method, c.path, resp.StatusCode, body, derr, c.status, c.code)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
	for _, want := range []string{"/auth/", "/oauth/", "/webhooks/", "/rotate/", "/dev/mailbox",
		"client addresses (GATEHOUSE_TRUSTED_PROXY_HOPS=0): the connection's peer address; X-Forwarded-For is ignored"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("serve did not print %s:\n%s", want, out.String())
		}
	}
}

// Controls: AUDIT-1
func TestAuditVerifyCatchesTamperedRow(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("GATEHOUSE_DATA_DIR", dir)
	for range 3 {
		if out, err := run(t, "keys", "rotate"); err != nil {
			t.Fatalf("keys rotate: %v\n%s", err, out)
		}
	}
	out, err := run(t, "keys", "list")
	if err != nil || strings.Count(out, "decrypt-only") != 2 || strings.Count(out, "primary") != 1 {
		t.Fatalf("keys list after three rotations: %v\n%s", err, out)
	}
	if out, err := run(t, "audit", "verify"); err != nil || !strings.Contains(out, "ok: checkpoint 3") || !strings.Contains(out, "3 events checked") {
		t.Fatalf("audit verify on an intact chain: %v\n%s", err, out)
	}
	db, err := sql.Open("sqlite", filepath.Join(dir, "gatehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`DROP TRIGGER audit_events_no_update; UPDATE audit_events SET target = 'forged' WHERE id = 2`); err != nil {
		t.Fatal(err)
	}
	out, err = run(t, "audit", "verify")
	if err == nil || !strings.Contains(out, "BROKEN at event 2") {
		t.Fatalf("audit verify after tampering: %v\n%s", err, out)
	}
}

// startServe runs `gatehouse serve` on embedded defaults in a temporary
// directory and returns its base URL; it stops when the test ends.
func startServe(t *testing.T) string {
	t.Helper()
	t.Setenv("GATEHOUSE_DATA_DIR", t.TempDir())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, ln, io.Discard, false) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	base := "http://" + ln.Addr().String()
	for range 100 {
		if resp, err := http.Get(base + "/auth/healthz"); err == nil {
			resp.Body.Close()
			return base
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("serve did not start")
	return ""
}

// The local server trusts no proxy by default: a client that writes its
// own X-Forwarded-For on every request still spends one network's
// allowance. Before, the default was one trusted hop everywhere, so each
// made-up address got a fresh allowance.
//
// Controls: AUTH-3
func TestLocalServerIgnoresForwardedFor(t *testing.T) {
	// Dev limits are generous (200 per 15 minutes); the deployed default
	// makes the 21st request from one network the first refused.
	t.Setenv("GATEHOUSE_LIMIT_MAGIC_LINK_NETWORK", "20/15m")
	base := startServe(t)
	var last int
	for i := range 25 {
		req, _ := http.NewRequest("POST", base+"/auth/magic-link", strings.NewReader(`{"email":"x`+strconv.Itoa(i)+`@example.com"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Forwarded-For", "198.51."+strconv.Itoa(i)+".1")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		last = resp.StatusCode
	}
	if last != http.StatusTooManyRequests {
		t.Fatalf("25 requests with made-up X-Forwarded-For: last %d, want 429", last)
	}
}

// The local server listens on loopback unless told otherwise: its
// /dev/mailbox holds every sign-in link it sent. Before, it listened on
// every interface (":8080").
//
// Controls: APP-5, AUTH-9
func TestServeListensOnLoopback(t *testing.T) {
	for _, tc := range []struct{ name, addr, port, want string }{
		{"default", "", "", "127.0.0.1:8080"},
		{"PORT", "", "9090", "127.0.0.1:9090"},
		{"flag", "0.0.0.0:7000", "9090", "0.0.0.0:7000"},
	} {
		if got := serveAddr(tc.addr, tc.port); got != tc.want {
			t.Errorf("%s: serveAddr = %q, want %q", tc.name, got, tc.want)
		}
	}
	flag := newServe().Flags().Lookup("addr")
	if flag == nil || flag.DefValue != "" {
		t.Fatalf("serve has no --addr flag defaulting to loopback: %+v", flag)
	}
	if !loopback(&net.TCPAddr{IP: net.ParseIP("127.0.0.1")}) || loopback(&net.TCPAddr{IP: net.ParseIP("0.0.0.0")}) {
		t.Fatal("loopback misjudges addresses")
	}
}

// syncBuffer is a bytes.Buffer safe for one writer and one reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// `gatehouse serve` as a user runs it binds the loopback interface.
//
// Controls: APP-5
func TestServeCommandBindsLoopback(t *testing.T) {
	t.Setenv("GATEHOUSE_DATA_DIR", t.TempDir())
	t.Setenv("PORT", "0")
	root := newRoot()
	var out syncBuffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs([]string{"serve"})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	}()
	for range 500 {
		if strings.Contains(out.String(), "serving on") {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	line, _, _ := strings.Cut(out.String(), "\n")
	if !strings.HasPrefix(line, "gatehouse serving on http://127.0.0.1:") || strings.Contains(out.String(), "warning") {
		t.Fatalf("serve: %q", out.String())
	}
}

// With GATEHOUSE_PUBLIC_URL unset, the local server's public URL (links in
// mail, the issuer) is the address it listens on, not a fixed 8080.
func TestServePublicURLFollowsTheListener(t *testing.T) {
	tests := []struct {
		name, env, public string
		addr              net.Addr
		want              string
		ok                bool
	}{
		{"loopback port", "", "", &net.TCPAddr{IP: net.ParseIP("127.0.0.1"), Port: 9123}, "http://localhost:9123", true},
		{"all interfaces", "", "", &net.TCPAddr{IP: net.ParseIP("0.0.0.0"), Port: 8081}, "http://localhost:8081", true},
		{"a LAN address", "dev", "", &net.TCPAddr{IP: net.ParseIP("192.168.1.5"), Port: 80}, "http://192.168.1.5:80", true},
		{"set explicitly", "", "https://id.example.com", &net.TCPAddr{IP: net.ParseIP("127.0.0.1"), Port: 9123}, "https://id.example.com", true},
		{"not in dev", "staging", "", &net.TCPAddr{IP: net.ParseIP("127.0.0.1"), Port: 9123}, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("GATEHOUSE_ENV", tc.env)
			if tc.env == "" {
				os.Unsetenv("GATEHOUSE_ENV")
			}
			t.Setenv("GATEHOUSE_PUBLIC_URL", tc.public)
			if tc.public == "" {
				os.Unsetenv("GATEHOUSE_PUBLIC_URL")
			}
			got, ok := localDefaults(tc.addr)("GATEHOUSE_PUBLIC_URL")
			if got != tc.want || ok != tc.ok {
				t.Fatalf("GATEHOUSE_PUBLIC_URL = %q, %v; want %q, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

// In dev, event webhook URLs without a secret get one generated for the
// run, printed in the banner: the secret the local receiver verifies with.
func TestServePrintsEventWebhookSecret(t *testing.T) {
	t.Setenv("GATEHOUSE_DATA_DIR", t.TempDir())
	t.Setenv("GATEHOUSE_EVENT_WEBHOOK_URLS", "http://localhost:9/gatehouse-events")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var out bytes.Buffer
	done := make(chan error, 1)
	go func() { done <- serve(ctx, ln, &out, true) }()
	for range 100 {
		if resp, err := http.Get("http://" + ln.Addr().String() + "/rotate/healthz"); err == nil {
			resp.Body.Close()
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
	var banner serveBanner
	if err := json.Unmarshal(out.Bytes(), &banner); err != nil {
		t.Fatal(err)
	}
	if _, err := eventhooks.ParseSecret(banner.EventWebhookSecret); err != nil {
		t.Fatalf("banner secret %q: %v", banner.EventWebhookSecret, err)
	}
}
