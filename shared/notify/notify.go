// Package notify sends outbound messages to people: magic links, password
// resets, invitations, new-device and security alerts.
//
// Deployed functions publish to a Pub/Sub topic ([PubSub]) from which a
// delivery service sends e-mail; [SMTP] sends directly through a relay; the
// development [Mailbox] appends to a local file that the local server shows
// (package devmailbox, which deployed functions must never import).
//
// Messages carry single-use tokens in their links. Those links are the
// message's purpose, so notifiers deliver them, but nothing in this package
// logs or prints them: a [Message] prints and logs only its kind, the
// recipient's domain and its organization, and errors never include links.
package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Kinds of message. Kind is an open set: any value matching
// [a-z][a-z0-9_]* is accepted, so a function can add its own.
const (
	KindMagicLink         = "magic_link"
	KindPasswordReset     = "password_reset"
	KindNewDevice         = "new_device"
	KindInvitation        = "invitation"
	KindSignupAttempt     = "signup_attempt"
	KindEmailVerification = "email_verification"
	KindAlert             = "alert"
)

// Message is one outbound message. Its JSON form (field names in the tags)
// is the Pub/Sub payload and the mailbox line format.
type Message struct {
	To        string    `json:"to"`   // a bare e-mail address
	Kind      string    `json:"kind"` // one of the Kind constants or another [a-z][a-z0-9_]* name
	Subject   string    `json:"subject"`
	Text      string    `json:"text"`            // plain-text body
	Links     []string  `json:"links,omitempty"` // absolute http(s) URLs, often holding single-use tokens
	OrgID     string    `json:"org_id,omitempty"`
	CreatedAt time.Time `json:"created_at"` // set by the notifier when zero
}

// Notifier sends a message. Notify returns only when the message is
// accepted for delivery (published, written or relayed), or with an error
// if it was not; callers decide whether a failure fails their request.
type Notifier interface {
	Notify(ctx context.Context, m Message) error
}

// ErrInvalidMessage reports a message that [Message.Validate] rejects.
var ErrInvalidMessage = errors.New("invalid message")

// Limits on message fields.
const (
	maxAddress = 254
	maxSubject = 200
	maxText    = 64 << 10
	maxLinks   = 10
	maxLink    = 2048
	maxOrgID   = 128
)

var kindRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)

// Validate checks that m can be sent safely: To is one bare e-mail address,
// Kind is a valid name, Subject is non-empty, single-line and short, Links
// are absolute http(s) URLs, text fields are valid UTF-8, and no field but
// Text holds control characters (which would allow header injection). The error wraps
// [ErrInvalidMessage] and names the field, never its value.
func (m Message) Validate() error {
	if !kindRE.MatchString(m.Kind) {
		return fmt.Errorf("%w: kind must match %s", ErrInvalidMessage, kindRE)
	}
	fail := func(problem string) error {
		return fmt.Errorf("%w: %s: %s", ErrInvalidMessage, m.Kind, problem)
	}
	switch {
	case !validAddress(m.To):
		return fail("recipient is not a bare e-mail address")
	case m.Subject == "" || len(m.Subject) > maxSubject || hasControl(m.Subject) || !utf8.ValidString(m.Subject):
		return fail(fmt.Sprintf("subject must be 1-%d bytes of UTF-8 without control characters", maxSubject))
	case len(m.Text) > maxText || strings.ContainsRune(m.Text, 0) || !utf8.ValidString(m.Text):
		return fail(fmt.Sprintf("text must be at most %d bytes of UTF-8 without NUL", maxText))
	case len(m.Links) > maxLinks:
		return fail(fmt.Sprintf("at most %d links", maxLinks))
	case len(m.OrgID) > maxOrgID || hasControl(m.OrgID) || !utf8.ValidString(m.OrgID):
		return fail("invalid org id")
	}
	for i, l := range m.Links {
		if !validLink(l) {
			return fail(fmt.Sprintf("link %d is not an absolute http(s) URL", i))
		}
	}
	return nil
}

func validAddress(s string) bool {
	if s == "" || len(s) > maxAddress || hasControl(s) || !utf8.ValidString(s) {
		return false
	}
	a, err := mail.ParseAddress(s)
	return err == nil && a.Name == "" && a.Address == s
}

func validLink(s string) bool {
	if len(s) > maxLink || hasControl(s) || strings.ContainsAny(s, " \\") {
		return false
	}
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" && u.User == nil
}

func hasControl(s string) bool {
	return strings.ContainsFunc(s, unicode.IsControl)
}

// RecipientDomain returns the domain of m.To ("example.com"), or "" if To
// has none. It is the only part of the recipient that logs may hold.
func (m Message) RecipientDomain() string {
	i := strings.LastIndexByte(m.To, '@')
	if i < 0 {
		return ""
	}
	return strings.ToLower(m.To[i+1:])
}

// LogValue logs the kind, the recipient's domain, the organization and the
// number of links, never the address, the text or the links.
func (m Message) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("kind", m.Kind),
		slog.String("to_domain", m.RecipientDomain()),
		slog.String("org_id", m.OrgID),
		slog.Int("links", len(m.Links)),
	)
}

// Format prints the same summary as LogValue for every fmt verb, so a
// message formatted into an error or a log line cannot leak a token.
func (m Message) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "notify.Message{kind=%s to=*@%s org=%s links=%d}", m.Kind, m.RecipientDomain(), m.OrgID, len(m.Links))
}

// prepare validates m and stamps CreatedAt (UTC) when it is zero.
func prepare(m Message, now func() time.Time) (Message, error) {
	if err := m.Validate(); err != nil {
		return Message{}, err
	}
	if m.CreatedAt.IsZero() {
		m.CreatedAt = now().UTC()
	}
	return m, nil
}
