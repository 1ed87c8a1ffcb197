package filekek_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/shared/envelope"
	"github.com/gatehouse-dev/gatehouse/shared/envelope/filekek"
)

var (
	ctx = context.Background()
	dk  = bytes.Repeat([]byte{0x5a}, envelope.KeySize)
	aad = []byte("gatehouse/data-key/v1/dk_1")
)

// Controls: CRED-3
func TestLoadCreatesPrivateKeyFileOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys", "kek")
	first, err := filekek.Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 || info.Size() != envelope.KeySize {
		t.Fatalf("key file mode %v size %d, want 0600 and %d bytes", info.Mode(), info.Size(), envelope.KeySize)
	}
	w, version, err := first.Wrap(ctx, dk, aad)
	if err != nil {
		t.Fatal(err)
	}
	again, err := filekek.Load(path, nil) // a later run reads the same key
	if err != nil {
		t.Fatal(err)
	}
	if got, err := again.Unwrap(ctx, w, aad); err != nil || !bytes.Equal(got, dk) {
		t.Fatalf("Unwrap after reload = %x, %v", got, err)
	}
	if again.Version() != version || !strings.HasPrefix(version, "file:") {
		t.Fatalf("version %q then %q, want one stable file: fingerprint", version, again.Version())
	}
	other, err := filekek.Load(filepath.Join(t.TempDir(), "kek"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if other.Version() == version {
		t.Fatal("two different keys have the same version")
	}
	if _, err := other.Unwrap(ctx, w, aad); !errors.Is(err, envelope.ErrDecrypt) {
		t.Fatalf("Unwrap under another file key: %v, want ErrDecrypt", err)
	}
}

// Controls: CRED-3
func TestLoadRefusesUnsafeFiles(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good")
	if _, err := filekek.Load(good, nil); err != nil {
		t.Fatal(err)
	}
	write := func(name string, size int, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, make([]byte, size), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(good, link); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		path string
	}{
		{name: "group readable", path: write("g", envelope.KeySize, 0o640)},
		{name: "world readable", path: write("o", envelope.KeySize, 0o604)},
		{name: "group writable", path: write("gw", envelope.KeySize, 0o620)},
		{name: "too short", path: write("short", envelope.KeySize-1, 0o600)},
		{name: "too long", path: write("long", envelope.KeySize+1, 0o600)},
		{name: "empty", path: write("empty", 0, 0o600)},
		{name: "symlink", path: link},
		{name: "directory", path: dir},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := filekek.Load(tt.path, nil); err == nil {
				t.Fatal("Load accepted the file")
			}
		})
	}
}

// Controls: CRED-3, CRED-5
func TestUnwrapOfWrongDataIsPermanent(t *testing.T) {
	kek, err := filekek.Load(filepath.Join(t.TempDir(), "kek"), nil)
	if err != nil {
		t.Fatal(err)
	}
	w, _, err := kek.Wrap(ctx, dk, aad)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		wrapped []byte
		aad     []byte
	}{
		{name: "other data key id", wrapped: w, aad: []byte("gatehouse/data-key/v1/dk_2")},
		{name: "truncated", wrapped: w[:len(w)-1], aad: aad},
		{name: "too short for a nonce", wrapped: w[:5], aad: aad},
		{name: "flipped", wrapped: append([]byte{w[0] ^ 1}, w[1:]...), aad: aad},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := kek.Unwrap(ctx, tt.wrapped, tt.aad); !errors.Is(err, envelope.ErrDecrypt) {
				t.Fatalf("Unwrap error %v, want ErrDecrypt", err)
			}
		})
	}
}
