package envelope

import (
	"fmt"
	"io"
	"log/slog"
)

// KeySize is the size in bytes of data keys, purpose keys and KEK file keys.
const KeySize = 32

// Key is 32 bytes of secret key material. It cannot be compared with ==, and
// every fmt verb and slog print it as [REDACTED], so a stray log line cannot
// leak it.
type Key struct {
	_ [0]func() // not comparable
	b [KeySize]byte
}

// NewKey reads a fresh key from rand.
func NewKey(rand io.Reader) (*Key, error) {
	k := new(Key)
	if _, err := io.ReadFull(rand, k.b[:]); err != nil {
		return nil, fmt.Errorf("read random key: %w", err)
	}
	return k, nil
}

// KeyFromBytes copies b into a Key. It fails unless len(b) == [KeySize].
func KeyFromBytes(b []byte) (*Key, error) {
	if len(b) != KeySize {
		return nil, fmt.Errorf("key is %d bytes, want %d", len(b), KeySize)
	}
	k := new(Key)
	copy(k.b[:], b)
	return k, nil
}

// Bytes returns the key material. The caller must not retain, log or
// modify it; it exists for handing the key to a cipher or a KEK.
func (k *Key) Bytes() []byte { return k.b[:] }

// Clear overwrites the key material with zeros.
func (k *Key) Clear() { clear(k.b[:]) }

// String returns "[REDACTED]".
func (Key) String() string { return "[REDACTED]" }

// GoString returns "[REDACTED]".
func (Key) GoString() string { return "[REDACTED]" }

// Format prints "[REDACTED]" for every verb.
func (Key) Format(f fmt.State, _ rune) { io.WriteString(f, "[REDACTED]") }

// LogValue returns "[REDACTED]".
func (Key) LogValue() slog.Value { return slog.StringValue("[REDACTED]") }
