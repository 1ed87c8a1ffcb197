package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/gatehouse-dev/gatehouse/shared/notify"
)

// A local run delivers events to a loopback receiver by itself, as the
// gatehouse-events job makes a deployment do every minute: a confirmed
// registration's user.created arrives signed with the secret the banner
// printed, with no POST to /rotate. (Before, a local receiver got nothing
// until someone posted a rotation message.)
func TestServeDeliversEventWebhooks(t *testing.T) {
	type delivery struct {
		header http.Header
		body   []byte
	}
	got := make(chan delivery, 16)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- delivery{r.Header.Clone(), body}
	}))
	defer recv.Close()
	t.Setenv("GATEHOUSE_DATA_DIR", t.TempDir())
	t.Setenv("GATEHOUSE_EVENT_WEBHOOK_URLS", recv.URL+"/hooks")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var out bytes.Buffer
	done := make(chan error, 1)
	go func() { done <- serve(ctx, ln, &out, true) }()
	var stopped sync.Once
	var serveErr error
	stop := func() error {
		stopped.Do(func() { cancel(); serveErr = <-done })
		return serveErr
	}
	t.Cleanup(func() { _ = stop() }) // before the data directory is removed
	base := "http://" + ln.Addr().String()
	post := func(path string, body any) *http.Response {
		t.Helper()
		b, _ := json.Marshal(body)
		var resp *http.Response
		for range 100 {
			if resp, err = http.Post(base+path, "application/json", bytes.NewReader(b)); err == nil {
				return resp
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("POST %s: %v", path, err)
		return nil
	}
	const email = "events@example.com"
	if resp := post("/auth/register", map[string]string{"email": email}); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("register: %d", resp.StatusCode)
	}
	// The registration e-mail is sent after the answer: wait for it.
	var msgs []notify.Message
	for deadline := time.Now().Add(20 * time.Second); len(msgs) == 0 && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		resp, err := http.Get(base + "/dev/mailbox?format=json")
		if err != nil {
			t.Fatal(err)
		}
		err = json.NewDecoder(resp.Body).Decode(&msgs)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(msgs) != 1 || len(msgs[0].Links) != 1 {
		t.Fatalf("mailbox: %+v", msgs)
	}
	_, token, _ := strings.Cut(msgs[0].Links[0], "#token=")
	resp := post("/auth/register/confirm", map[string]string{"token": token, "password": "a long enough password 42", "name": "Events"})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("confirm: %d", resp.StatusCode)
	}
	var d delivery
	select {
	case d = <-got:
	case <-time.After(30 * time.Second):
		t.Fatal("no event delivered within 30 s")
	}
	if err := stop(); err != nil {
		t.Fatalf("serve: %v", err)
	}
	var banner serveBanner
	if err := json.Unmarshal(out.Bytes(), &banner); err != nil {
		t.Fatal(err)
	}
	wh, err := standardwebhooks.NewWebhook(banner.EventWebhookSecret)
	if err != nil {
		t.Fatal(err)
	}
	if err := wh.Verify(d.body, d.header); err != nil {
		t.Fatalf("delivery does not verify with the printed secret: %v", err)
	}
	var ce struct {
		Type    string `json:"type"`
		Subject string `json:"subject"`
	}
	if err := json.Unmarshal(d.body, &ce); err != nil || ce.Type != "com.gatehouse.user.created.v1" {
		t.Fatalf("delivered %s (%v), want user.created", d.body, err)
	}
}
