package notify

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func newTestMailbox(t *testing.T) *Mailbox {
	t.Helper()
	mb, err := NewMailbox(filepath.Join(t.TempDir(), "data"))
	if err != nil {
		t.Fatalf("NewMailbox: %v", err)
	}
	mb.now = func() time.Time { return fixedNow }
	return mb
}

func TestMailboxAppendsAndLists(t *testing.T) {
	mb := newTestMailbox(t)
	if msgs, err := mb.List(); err != nil || len(msgs) != 0 || msgs == nil {
		t.Fatalf("List of a new mailbox = %#v, %v; want an empty slice", msgs, err)
	}
	first, second := magicLink(), magicLink()
	second.Kind = KindPasswordReset
	for _, m := range []Message{first, second} {
		if err := mb.Notify(context.Background(), m); err != nil {
			t.Fatalf("Notify: %v", err)
		}
	}
	msgs, err := mb.List()
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if len(msgs) != 2 || msgs[0].Kind != KindMagicLink || msgs[1].Kind != KindPasswordReset {
		t.Fatalf("List = %v, want magic link then password reset", msgs)
	}
	if msgs[1].Links[0] != second.Links[0] || !msgs[1].CreatedAt.Equal(fixedNow) {
		t.Fatalf("List lost the link or the time: %v", msgs[1].CreatedAt)
	}
	info, err := os.Stat(mb.Path())
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("mailbox mode = %v, %v; want 0600", info.Mode().Perm(), err)
	}
}

// Controls: CRED-4
func TestMailboxTightensExistingFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, MailboxFile)
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := NewMailbox(dir); err != nil {
		t.Fatalf("NewMailbox: %v", err)
	}
	if info, err := os.Stat(path); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("mode = %v, %v; want 0600", info.Mode().Perm(), err)
	}
}

func TestMailboxConcurrentNotify(t *testing.T) {
	mb := newTestMailbox(t)
	other, err := NewMailbox(filepath.Dir(mb.Path())) // a second writer on the same file
	if err != nil {
		t.Fatal(err)
	}
	const writers, each = 8, 25
	var wg sync.WaitGroup
	for w := range writers {
		box := mb
		if w%2 == 1 {
			box = other
		}
		wg.Go(func() {
			for i := range each {
				m := magicLink()
				m.OrgID = fmt.Sprintf("org_%d_%d", w, i)
				if err := box.Notify(context.Background(), m); err != nil {
					t.Errorf("Notify: %v", err)
				}
			}
		})
	}
	wg.Wait()
	msgs, err := mb.List()
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	seen := map[string]bool{}
	for _, m := range msgs {
		seen[m.OrgID] = true
	}
	if len(msgs) != writers*each || len(seen) != writers*each {
		t.Fatalf("List has %d messages, %d distinct; want %d", len(msgs), len(seen), writers*each)
	}
}

func TestMailboxRejectsInvalidAndCorrupt(t *testing.T) {
	mb := newTestMailbox(t)
	if err := mb.Notify(context.Background(), Message{Kind: "x"}); !errors.Is(err, ErrInvalidMessage) {
		t.Fatalf("Notify(invalid) = %v, want ErrInvalidMessage", err)
	}
	if err := os.WriteFile(mb.Path(), []byte("{\"kind\":\"a\"}\nnot json\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := mb.List(); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("List of a corrupt mailbox = %v, want an error naming line 2", err)
	}
	if err := os.Remove(mb.Path()); err != nil {
		t.Fatal(err)
	}
	if msgs, err := mb.List(); err != nil || len(msgs) != 0 {
		t.Fatalf("List of a removed mailbox = %v, %v", msgs, err)
	}
}
