package notify

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gatehouse-dev/gatehouse/shared/logging"
)

var (
	// ErrSMTPURL reports an SMTP URL that is not
	// smtp://[user:pass@]host[:port]?from=address.
	ErrSMTPURL = errors.New("invalid SMTP URL: want smtp://[user:pass@]host[:port]?from=address")
	// ErrNoStartTLS reports a server that does not offer STARTTLS. Nothing
	// is sent to such a server: not the credentials, not the message.
	ErrNoStartTLS = errors.New("SMTP server does not offer STARTTLS")
)

// SMTP sends each message as a plain-text e-mail through an SMTP relay. It
// always upgrades the connection with STARTTLS, verifying the server's
// certificate, before authenticating or sending anything.
type SMTP struct {
	addr      string // host:port
	host      string
	user      string
	pass      logging.Secret
	from      string
	tlsConfig *tls.Config
	now       func() time.Time
}

var _ Notifier = (*SMTP)(nil)

// NewSMTP parses rawURL, smtp://user:pass@host:port?from=address (port 587
// when absent, credentials optional, user and password URL-encoded). tlsConfig
// may be nil for the system roots; its ServerName defaults to the host.
// The error wraps [ErrSMTPURL] and never repeats the URL, which holds a
// password.
func NewSMTP(rawURL string, tlsConfig *tls.Config) (*SMTP, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme != "smtp" || u.Hostname() == "" || u.Opaque != "" {
		return nil, ErrSMTPURL
	}
	from, err := mail.ParseAddress(u.Query().Get("from"))
	if err != nil {
		return nil, fmt.Errorf("%w: from is not an e-mail address", ErrSMTPURL)
	}
	port := u.Port()
	if port == "" {
		port = "587"
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if tlsConfig != nil {
		cfg = tlsConfig.Clone()
	}
	if cfg.ServerName == "" {
		cfg.ServerName = u.Hostname()
	}
	pass, _ := u.User.Password()
	return &SMTP{
		addr:      net.JoinHostPort(u.Hostname(), port),
		host:      u.Hostname(),
		user:      u.User.Username(),
		pass:      logging.NewSecret(pass),
		from:      from.Address,
		tlsConfig: cfg,
		now:       time.Now,
	}, nil
}

// Notify validates m and relays it. It fails with [ErrNoStartTLS] if the
// server cannot encrypt the session, and otherwise with the SMTP error.
// ctx bounds the whole conversation.
func (s *SMTP) Notify(ctx context.Context, m Message) error {
	m, err := prepare(m, s.now)
	if err != nil {
		return err
	}
	body, err := composeMail(s.from, m)
	if err != nil {
		return err
	}
	if err := s.send(ctx, m.To, body); err != nil {
		return fmt.Errorf("send %s notification by SMTP: %w", m.Kind, err)
	}
	return nil
}

func (s *SMTP) send(ctx context.Context, to string, body []byte) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", s.addr)
	if err != nil {
		return fmt.Errorf("dial %s: %w", s.addr, err)
	}
	defer conn.Close()
	// Unblock any read or write when ctx ends.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	c, err := smtp.NewClient(conn, s.host)
	if err != nil {
		return fmt.Errorf("greeting: %w", err)
	}
	defer c.Close()
	if err := s.startTLS(c); err != nil {
		return err
	}
	if s.user != "" {
		if err := c.Auth(smtp.PlainAuth("", s.user, s.pass.Reveal(), s.host)); err != nil {
			return fmt.Errorf("authenticate: %w", err)
		}
	}
	return transmit(c, s.from, to, body)
}

func (s *SMTP) startTLS(c *smtp.Client) error {
	if err := c.Hello("localhost"); err != nil {
		return fmt.Errorf("hello: %w", err)
	}
	if ok, _ := c.Extension("STARTTLS"); !ok {
		return ErrNoStartTLS
	}
	if err := c.StartTLS(s.tlsConfig); err != nil {
		return fmt.Errorf("starttls: %w", err)
	}
	return nil
}

func transmit(c *smtp.Client, from, to string, body []byte) error {
	if err := c.Mail(from); err != nil {
		return fmt.Errorf("mail from: %w", err)
	}
	if err := c.Rcpt(to); err != nil {
		return fmt.Errorf("rcpt to: %w", err)
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("data: %w", err)
	}
	if _, err := w.Write(body); err != nil {
		return fmt.Errorf("write message: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("end message: %w", err)
	}
	if err := c.Quit(); err != nil {
		return fmt.Errorf("quit: %w", err)
	}
	return nil
}

// Format prints the relay address, user and sender, never the password.
func (s SMTP) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "notify.SMTP{addr=%s user=%s from=%s}", s.addr, s.user, s.from)
}

// encodeSubject returns subject as a header value that decodes back to it.
// mime.QEncoding leaves printable ASCII alone, so a subject that itself
// looks like an encoded word ("=?utf-8?q?...?=") would be decoded by mail
// clients into something else; such a subject is base64-encoded in
// encoded words of at most 45 input bytes each.
func encodeSubject(subject string) string {
	if !strings.Contains(subject, "=?") {
		return mime.QEncoding.Encode("utf-8", subject)
	}
	var words []string
	for len(subject) > 0 {
		n := min(len(subject), 45)
		for n < len(subject) && !utf8.RuneStart(subject[n]) {
			n--
		}
		// mime.BEncoding would also leave printable ASCII alone.
		words = append(words, "=?utf-8?b?"+base64.StdEncoding.EncodeToString([]byte(subject[:n]))+"?=")
		subject = subject[n:]
	}
	return strings.Join(words, " ")
}

// composeMail renders a validated message as an RFC 5322 plain-text e-mail:
// fixed headers (the subject Q-encoded when needed) and a quoted-printable
// body of the text followed by the links, one per line.
func composeMail(from string, m Message) ([]byte, error) {
	var b bytes.Buffer
	header := func(k, v string) { b.WriteString(k + ": " + v + "\r\n") }
	header("From", from)
	header("To", m.To)
	header("Subject", encodeSubject(m.Subject))
	header("Date", m.CreatedAt.Format(time.RFC1123Z))
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=utf-8")
	header("Content-Transfer-Encoding", "quoted-printable")
	header("X-Gatehouse-Kind", m.Kind)
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	text := m.Text
	if len(m.Links) > 0 {
		text = strings.TrimRight(text, "\n") + "\n\n" + strings.Join(m.Links, "\n") + "\n"
	}
	if _, err := qp.Write([]byte(text)); err != nil {
		return nil, fmt.Errorf("encode %s notification body: %w", m.Kind, err)
	}
	if err := qp.Close(); err != nil {
		return nil, fmt.Errorf("encode %s notification body: %w", m.Kind, err)
	}
	return b.Bytes(), nil
}
