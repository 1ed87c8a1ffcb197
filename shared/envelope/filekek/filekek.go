// Package filekek is a key-encryption key kept in a local file, for
// development and tests only: production wraps data keys with Cloud KMS
// (package kmskek). The file holds 32 random bytes; it is created on first
// use with mode 0600 and refused if group or others have any access to it.
package filekek

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	cryptorand "crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/gatehouse-dev/gatehouse/shared/envelope"
)

// KEK wraps data keys with AES-256-GCM under the file key, with the caller's
// aad as associated data. Unwrap failures are envelope.ErrDecrypt
// (permanent); nothing in it is retryable.
type KEK struct {
	aead    cipher.AEAD
	version string
	rand    io.Reader
}

var _ envelope.KEK = (*KEK)(nil)

// Load returns the KEK in the file at path, creating the file (and its
// directory, mode 0700) with a fresh key if it does not exist. rand is the
// source of the key and of nonces; nil means crypto/rand. It
// fails if the file is not a regular file of 32 bytes, or if its mode grants
// group or others any access.
func Load(path string, rand io.Reader) (*KEK, error) {
	if rand == nil {
		rand = cryptorand.Reader
	}
	if err := create(path, rand); err != nil {
		return nil, err
	}
	key, err := read(path)
	if err != nil {
		return nil, err
	}
	defer key.Clear()
	return newKEK(key, rand)
}

// create writes a new key file at path unless one exists. The key is written
// to a temporary file first and linked into place, so a concurrent Load never
// sees a partial key and two racing creators agree on one key.
func create(path string, rand io.Reader) error {
	if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
		return nil // exists, or an error that read reports
	}
	key, err := envelope.NewKey(rand)
	if err != nil {
		return fmt.Errorf("create key file %s: %w", path, err)
	}
	defer key.Clear()
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create key file %s: %w", path, err)
	}
	tmp, err := os.CreateTemp(dir, ".kek-*") // mode 0600
	if err != nil {
		return fmt.Errorf("create key file %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(key.Bytes())
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Link(tmp.Name(), path)
	}
	if err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("create key file %s: %w", path, err)
	}
	return nil
}

// read loads the key, refusing symlinks, other file types, wrong sizes and
// modes that let group or others in.
func read(path string) (*envelope.Key, error) {
	info, err := os.Lstat(path)
	if err != nil {
		return nil, fmt.Errorf("read key file: %w", err)
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("read key file %s: not a regular file", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read key file: %w", err)
	}
	defer f.Close()
	if info, err = f.Stat(); err != nil {
		return nil, fmt.Errorf("read key file: %w", err)
	}
	if perm := info.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("read key file %s: mode %04o lets group or others in; chmod 600 it", path, perm)
	}
	b := make([]byte, envelope.KeySize+1)
	n, err := io.ReadFull(f, b)
	defer clear(b)
	if n != envelope.KeySize || !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, fmt.Errorf("read key file %s: want exactly %d bytes", path, envelope.KeySize)
	}
	return envelope.KeyFromBytes(b[:n])
}

// newKEK builds the cipher and names the key version by a fingerprint that
// HKDF derives from the key, so a replaced file shows in KEKVersion.
func newKEK(key *envelope.Key, rand io.Reader) (*KEK, error) {
	block, err := aes.NewCipher(key.Bytes())
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	fp, err := hkdf.Key(sha256.New, key.Bytes(), nil, "gatehouse/file-kek-id/v1", 8)
	if err != nil {
		return nil, err
	}
	return &KEK{aead: aead, version: "file:" + hex.EncodeToString(fp), rand: rand}, nil
}

// Wrap returns nonce || AES-256-GCM(plaintext, aad) and the key's fingerprint.
func (k *KEK) Wrap(_ context.Context, plaintext, aad []byte) ([]byte, string, error) {
	out := make([]byte, k.aead.NonceSize(), k.aead.NonceSize()+len(plaintext)+k.aead.Overhead())
	if _, err := io.ReadFull(k.rand, out); err != nil {
		return nil, "", fmt.Errorf("file kek wrap: read nonce: %w", err)
	}
	return k.aead.Seal(out, out, plaintext, aad), k.version, nil
}

// Unwrap decrypts what Wrap returned for the same aad, or returns
// envelope.ErrDecrypt.
func (k *KEK) Unwrap(_ context.Context, wrapped, aad []byte) ([]byte, error) {
	ns := k.aead.NonceSize()
	if len(wrapped) < ns+k.aead.Overhead() {
		return nil, fmt.Errorf("file kek unwrap: %w: too short", envelope.ErrDecrypt)
	}
	pt, err := k.aead.Open(nil, wrapped[:ns], wrapped[ns:], aad)
	if err != nil {
		return nil, fmt.Errorf("file kek unwrap: %w", envelope.ErrDecrypt)
	}
	return pt, nil
}

// Version returns the key's fingerprint, as Wrap reports it.
func (k *KEK) Version() string { return k.version }
