package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// MailboxFile is the name of the mailbox file inside the data directory.
const MailboxFile = "mailbox.jsonl"

// Mailbox is the development notifier: it appends each message as one JSON
// line to DATA_DIR/mailbox.jsonl (mode 0600), so a developer can read magic
// links and reset links without an e-mail service. It is for the local
// server only: configuration refuses an empty notify topic outside dev, and
// the HTTP view of the mailbox lives in package devmailbox, which deployed
// functions never import.
//
// A Mailbox is safe for concurrent use; each message is written with one
// append, so several local processes may share the file.
type Mailbox struct {
	path string
	mu   sync.Mutex
	now  func() time.Time
}

var _ Notifier = (*Mailbox)(nil)

// NewMailbox creates dataDir (mode 0700) and the mailbox file in it if they
// do not exist, and makes the file mode 0600.
func NewMailbox(dataDir string) (*Mailbox, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create mailbox directory: %w", err)
	}
	path := filepath.Join(dataDir, MailboxFile)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create mailbox: %w", err)
	}
	defer f.Close()
	if err := f.Chmod(0o600); err != nil {
		return nil, fmt.Errorf("restrict mailbox permissions: %w", err)
	}
	return &Mailbox{path: path, now: time.Now}, nil
}

// Path returns the mailbox file's path.
func (mb *Mailbox) Path() string { return mb.path }

// Notify validates m and appends it to the mailbox.
func (mb *Mailbox) Notify(_ context.Context, m Message) error {
	m, err := prepare(m, mb.now)
	if err != nil {
		return err
	}
	line, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode %s notification: %w", m.Kind, err)
	}
	line = append(line, '\n')
	mb.mu.Lock()
	defer mb.mu.Unlock()
	f, err := os.OpenFile(mb.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("open mailbox: %w", err)
	}
	if _, err := f.Write(line); err != nil {
		f.Close()
		return fmt.Errorf("append %s notification to mailbox: %w", m.Kind, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close mailbox: %w", err)
	}
	return nil
}

// List returns every message in the mailbox, oldest first (newest last);
// an empty slice if the file is empty or was removed. A line that is not a
// message is an error naming its line number.
func (mb *Mailbox) List() ([]Message, error) {
	mb.mu.Lock()
	data, err := os.ReadFile(mb.path)
	mb.mu.Unlock()
	if errors.Is(err, fs.ErrNotExist) {
		return []Message{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read mailbox: %w", err)
	}
	msgs := []Message{}
	for i, line := range bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var m Message
		if err := json.Unmarshal(line, &m); err != nil {
			return nil, fmt.Errorf("read mailbox line %d: %w", i+1, err)
		}
		msgs = append(msgs, m)
	}
	return msgs, nil
}
