package notify

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/big"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/textproto"
	"strings"
	"testing"
	"time"
)

// smtpSession is what the fake SMTP server saw in one connection.
type smtpSession struct {
	commands []string // verbs in order, "STARTTLS" included
	auth     string   // decoded AUTH PLAIN response
	authTLS  bool     // AUTH arrived over TLS
	from, to string
	data     []byte
}

// fakeSMTP is a minimal in-process SMTP server on 127.0.0.1, offering
// STARTTLS when tlsConfig is non-nil.
type fakeSMTP struct {
	addr     string
	tls      *tls.Config
	sessions chan smtpSession
}

func startFakeSMTP(t *testing.T, tlsConfig *tls.Config) *fakeSMTP {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = lis.Close() })
	f := &fakeSMTP{addr: lis.Addr().String(), tls: tlsConfig, sessions: make(chan smtpSession, 1)}
	go func() {
		conn, err := lis.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		f.sessions <- f.serve(conn)
	}()
	return f
}

func (f *fakeSMTP) serve(conn net.Conn) smtpSession {
	var s smtpSession
	tp := textproto.NewConn(conn)
	inTLS := false
	reply := func(format string, args ...any) { _ = tp.PrintfLine(format, args...) }
	reply("220 fake ESMTP")
	for {
		line, err := tp.ReadLine()
		if err != nil {
			return s
		}
		verb, arg, _ := strings.Cut(line, " ")
		verb = strings.ToUpper(verb)
		s.commands = append(s.commands, verb)
		switch verb {
		case "EHLO":
			if f.tls != nil && !inTLS {
				reply("250-fake\r\n250-STARTTLS\r\n250 AUTH PLAIN")
			} else {
				reply("250-fake\r\n250 AUTH PLAIN")
			}
		case "STARTTLS":
			reply("220 go ahead")
			tc := tls.Server(conn, f.tls)
			if tc.Handshake() != nil {
				return s
			}
			tp, inTLS = textproto.NewConn(tc), true
		case "AUTH":
			b, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(arg, "PLAIN "))
			s.auth, s.authTLS = string(b), inTLS
			reply("235 ok")
		case "MAIL":
			s.from = arg
			reply("250 ok")
		case "RCPT":
			s.to = arg
			reply("250 ok")
		case "DATA":
			reply("354 go on")
			s.data, _ = tp.ReadDotBytes()
			reply("250 queued")
		case "QUIT":
			reply("221 bye")
			return s
		default:
			reply("502 not implemented")
		}
	}
}

// selfSignedTLS returns a server config for 127.0.0.1 and a client config
// trusting it.
func selfSignedTLS(t *testing.T) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "fake smtp"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	server = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	return server, &tls.Config{RootCAs: pool}
}

const smtpPassword = "p@ss-" + token

func newTestSMTP(t *testing.T, addr string, clientTLS *tls.Config) *SMTP {
	t.Helper()
	raw := fmt.Sprintf("smtp://mailer:%s@%s?from=noreply@example.com", strings.ReplaceAll(smtpPassword, "@", "%40"), addr)
	s, err := NewSMTP(raw, clientTLS)
	if err != nil {
		t.Fatalf("NewSMTP: %v", err)
	}
	s.now = func() time.Time { return fixedNow }
	return s
}

func TestSMTPSendsOverStartTLS(t *testing.T) {
	serverTLS, clientTLS := selfSignedTLS(t)
	srv := startFakeSMTP(t, serverTLS)
	s := newTestSMTP(t, srv.addr, clientTLS)
	m := magicLink()
	m.Subject = "Connexion à Gatehouse"
	if err := s.Notify(context.Background(), m); err != nil {
		t.Fatalf("Notify: %v", err)
	}
	got := <-srv.sessions
	if got.auth != "\x00mailer\x00"+smtpPassword || !got.authTLS {
		t.Fatalf("AUTH %q over TLS %v; want the credentials, over TLS", got.auth, got.authTLS)
	}
	if got.from != "FROM:<noreply@example.com>" || got.to != "TO:<alice@Example.com>" {
		t.Fatalf("envelope %q -> %q", got.from, got.to)
	}
	parsed, err := mail.ReadMessage(strings.NewReader(string(got.data)))
	if err != nil {
		t.Fatalf("parse delivered mail: %v", err)
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(parsed.Header.Get("Subject"))
	if err != nil || subject != m.Subject || parsed.Header.Get("X-Gatehouse-Kind") != KindMagicLink {
		t.Fatalf("Subject %q (%v), kind %q", subject, err, parsed.Header.Get("X-Gatehouse-Kind"))
	}
	body, err := io.ReadAll(quotedprintable.NewReader(parsed.Body))
	if err != nil || !strings.Contains(string(body), m.Text) || !strings.Contains(string(body), m.Links[0]) {
		t.Fatalf("body %q (%v) lacks the text or the link", body, err)
	}
}

// Controls: CRED-4, APP-5
func TestSMTPRefusesServerWithoutStartTLS(t *testing.T) {
	srv := startFakeSMTP(t, nil)
	s := newTestSMTP(t, srv.addr, nil)
	err := s.Notify(context.Background(), magicLink())
	if !errors.Is(err, ErrNoStartTLS) {
		t.Fatalf("Notify = %v, want ErrNoStartTLS", err)
	}
	_ = s // the client closes the connection; the server reports what it saw
	got := <-srv.sessions
	for _, c := range got.commands {
		if c == "AUTH" || c == "MAIL" || c == "DATA" {
			t.Fatalf("client sent %s to a server without TLS: %v", c, got.commands)
		}
	}
}

// Controls: AUDIT-2, CRED-4
func TestNewSMTPErrorsHideTheURL(t *testing.T) {
	tests := []struct{ name, url string }{
		{"bad port", "smtp://u:" + smtpPassword + "@host:port?from=a@example.com"},
		{"wrong scheme", "smtps://u:" + smtpPassword + "@host:465?from=a@example.com"},
		{"no from", "smtp://u:" + smtpPassword + "@host:587"},
		{"bad from", "smtp://u:" + smtpPassword + "@host:587?from=nobody"},
		{"no host", "smtp://u:" + smtpPassword + "@:587?from=a@example.com"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := NewSMTP(tc.url, nil)
			if !errors.Is(err, ErrSMTPURL) {
				t.Fatalf("NewSMTP = %v, %v; want ErrSMTPURL", s, err)
			}
			if strings.Contains(err.Error(), token) {
				t.Fatalf("error exposes the password: %v", err)
			}
		})
	}
	s, err := NewSMTP("smtp://u:"+strings.ReplaceAll(smtpPassword, "@", "%40")+"@host?from=a@example.com", nil)
	if err != nil {
		t.Fatal(err)
	}
	if out := fmt.Sprintf("%+v %#v", *s, *s); strings.Contains(out, token) {
		t.Fatalf("printing the notifier exposes the password: %s", out)
	}
	if s.addr != "host:587" {
		t.Fatalf("default port: addr = %q", s.addr)
	}
}

// FuzzComposeMail checks that no valid message can add or change a header.
func FuzzComposeMail(f *testing.F) {
	f.Add("alice@example.com", "Your link", "Hello\n.\nbye", "https://a.example/x?t=1")
	f.Add("bob@example.com", "Ça va? =?utf-8?q?x?=", "line\r\nBcc: eve@example.com", "http://localhost:8080/")
	f.Add("c@example.com", "=?utf-8?q?Hello?= =?us-ascii?b?eA==?=", "", "https://example.com/")
	f.Add("x@y.z", "Subject\twith tab", strings.Repeat("long ", 100), "https://example.com/"+strings.Repeat("a", 200))
	f.Fuzz(func(t *testing.T, to, subject, text, link string) {
		m := Message{To: to, Kind: KindAlert, Subject: subject, Text: text, Links: []string{link}, CreatedAt: fixedNow}
		if m.Validate() != nil {
			return
		}
		raw, err := composeMail("noreply@example.com", m)
		if err != nil {
			t.Fatalf("composeMail: %v", err)
		}
		parsed, err := mail.ReadMessage(bufio.NewReader(strings.NewReader(string(raw))))
		if err != nil {
			t.Fatalf("parse composed mail: %v", err)
		}
		if len(parsed.Header) != 8 || parsed.Header.Get("To") != to {
			t.Fatalf("headers changed: %v", parsed.Header)
		}
		got, err := new(mime.WordDecoder).DecodeHeader(parsed.Header.Get("Subject"))
		// Header parsing drops white space around a value; that changes nothing.
		if err != nil || strings.TrimSpace(got) != strings.TrimSpace(subject) {
			t.Fatalf("subject %q decoded to %q (%v)", subject, got, err)
		}
	})
}
