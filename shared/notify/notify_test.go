package notify

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

const token = "tok_9Qm2vXr7LkP4"

var fixedNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func magicLink() Message {
	return Message{
		To:      "alice@Example.com",
		Kind:    KindMagicLink,
		Subject: "Your sign-in link",
		Text:    "Click the link below to sign in. It expires in 15 minutes.",
		Links:   []string{"https://auth.example.com/magic?token=" + token},
		OrgID:   "org_123",
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(m *Message)
		ok     bool
	}{
		{"valid", func(*Message) {}, true},
		{"custom kind", func(m *Message) { m.Kind = "billing_failed" }, true},
		{"no links", func(m *Message) { m.Links = nil }, true},
		{"unicode subject", func(m *Message) { m.Subject = "Connexion à Gatehouse" }, true},
		{"empty kind", func(m *Message) { m.Kind = "" }, false},
		{"kind with space", func(m *Message) { m.Kind = "magic link" }, false},
		{"empty recipient", func(m *Message) { m.To = "" }, false},
		{"display name", func(m *Message) { m.To = "Alice <alice@example.com>" }, false},
		{"two recipients", func(m *Message) { m.To = "alice@example.com, eve@example.com" }, false},
		{"header injection in recipient", func(m *Message) { m.To = "alice@example.com\r\nBcc: eve@example.com" }, false},
		{"header injection in subject", func(m *Message) { m.Subject = "Hi\r\nBcc: eve@example.com" }, false},
		{"empty subject", func(m *Message) { m.Subject = "" }, false},
		{"long subject", func(m *Message) { m.Subject = strings.Repeat("a", maxSubject+1) }, false},
		{"NUL in text", func(m *Message) { m.Text = "a\x00b" }, false},
		{"invalid UTF-8 in subject", func(m *Message) { m.Subject = "a\x82" }, false},
		{"invalid UTF-8 in text", func(m *Message) { m.Text = "a\xff" }, false},
		{"relative link", func(m *Message) { m.Links = []string{"/magic?token=x"} }, false},
		{"javascript link", func(m *Message) { m.Links = []string{"javascript:alert(1)"} }, false},
		{"link with user info", func(m *Message) { m.Links = []string{"https://eve@example.com/"} }, false},
		{"too many links", func(m *Message) { m.Links = make([]string, maxLinks+1) }, false},
		{"control in org", func(m *Message) { m.OrgID = "org\n1" }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := magicLink()
			tc.change(&m)
			err := m.Validate()
			if tc.ok != (err == nil) {
				t.Fatalf("Validate() = %v, want ok=%v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalidMessage) {
				t.Fatalf("Validate() = %v, want ErrInvalidMessage", err)
			}
			if err != nil && (strings.Contains(err.Error(), token) || strings.Contains(err.Error(), "alice@")) {
				t.Fatalf("error exposes message content: %v", err)
			}
		})
	}
}

// Controls: AUDIT-2, CRED-4
func TestMessageNeverPrintsTokensOrAddress(t *testing.T) {
	m := magicLink()
	var text, js bytes.Buffer
	slog.New(slog.NewTextHandler(&text, nil)).Info("sent", "msg", m)
	slog.New(slog.NewJSONHandler(&js, nil)).Info("sent", "msg", m)
	tests := []struct {
		name string
		out  string
	}{
		{"%v", fmt.Sprintf("%v", m)},
		{"%+v", fmt.Sprintf("%+v", m)},
		{"%#v", fmt.Sprintf("%#v", m)},
		{"%s", fmt.Sprintf("%s", m)},
		{"error", fmt.Errorf("notify %v: %w", m, errors.New("x")).Error()},
		{"slog text", text.String()},
		{"slog json", js.String()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if strings.Contains(tc.out, token) || strings.Contains(tc.out, "alice") || strings.Contains(tc.out, "sign in") {
				t.Fatalf("output exposes message content: %s", tc.out)
			}
			if !strings.Contains(tc.out, "magic_link") || !strings.Contains(tc.out, "example.com") {
				t.Fatalf("output %q lacks kind and recipient domain", tc.out)
			}
		})
	}
}

func TestRecipientDomain(t *testing.T) {
	tests := []struct{ name, to, want string }{
		{"lower-cased", "alice@Example.COM", "example.com"},
		{"no at", "alice", ""},
		{"quoted local part", `"a@b"@example.org`, "example.org"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := (Message{To: tc.to}).RecipientDomain(); got != tc.want {
				t.Fatalf("RecipientDomain(%q) = %q, want %q", tc.to, got, tc.want)
			}
		})
	}
}

func TestPrepareStampsCreatedAt(t *testing.T) {
	m, err := prepare(magicLink(), func() time.Time { return fixedNow.In(time.FixedZone("x", 3600)) })
	if err != nil || !m.CreatedAt.Equal(fixedNow) || m.CreatedAt.Location() != time.UTC {
		t.Fatalf("prepare = %v (%v), %v", m.CreatedAt, m.CreatedAt.Location(), err)
	}
	set := magicLink()
	set.CreatedAt = fixedNow.Add(-time.Hour)
	if m, _ := prepare(set, time.Now); !m.CreatedAt.Equal(set.CreatedAt) {
		t.Fatalf("prepare replaced a set CreatedAt")
	}
}
