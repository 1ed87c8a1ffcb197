// Package password hashes and verifies passwords with Argon2id (RFC 9106)
// in the PHC string format, optionally with a server-side pepper, and bounds
// how many hashes run at once so that memory stays bounded under any load.
//
// Why Argon2id: it is memory-hard (an attacker's GPUs and ASICs pay for
// memory as well as time) and resists side channels in its first pass; the
// defaults (m=19456 KiB, t=2, p=1) are OWASP's minimum recommendation.
package password

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"runtime"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"golang.org/x/text/unicode/norm"

	"github.com/gatehouse-dev/gatehouse/shared/logging"
	"github.com/gatehouse-dev/gatehouse/shared/password/argon2id"
)

// Params are Argon2id cost parameters.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32 // passes
	Threads uint8
}

// DefaultParams are OWASP's recommended minimum for Argon2id.
var DefaultParams = Params{Memory: 19456, Time: 2, Threads: 1}

// Validate rejects parameters below the OWASP minimum or absurdly high.
func (p Params) Validate() error {
	switch {
	case p.Memory < DefaultParams.Memory || p.Memory > 4<<20:
		return fmt.Errorf("argon2id memory %d KiB is outside %d KiB..4 GiB", p.Memory, DefaultParams.Memory)
	case p.Time < 1 || p.Time > 64:
		return fmt.Errorf("argon2id time %d is outside 1..64", p.Time)
	case p.Threads < 1:
		return errors.New("argon2id threads must be at least 1")
	case p.Memory < DefaultParams.Memory*uint32(DefaultParams.Time)/p.Time:
		return fmt.Errorf("argon2id m=%d t=%d costs less than m=%d t=%d", p.Memory, p.Time,
			DefaultParams.Memory, DefaultParams.Time)
	}
	return nil
}

const (
	saltLen = 16
	keyLen  = 32
)

// Errors. Compare with [errors.Is].
var (
	// ErrMismatch means the password does not match the hash.
	ErrMismatch = errors.New("password: mismatch")
	// ErrMalformedHash means the stored hash is not a PHC Argon2id string
	// this package can verify.
	ErrMalformedHash = errors.New("password: malformed hash")
	// ErrUnknownPepper means the hash was made with a pepper this Hasher
	// does not have (the pepper was changed without keeping the old one).
	ErrUnknownPepper = errors.New("password: hash uses an unknown pepper")
)

// Options configure a [Hasher].
type Options struct {
	Params Params // DefaultParams when zero
	// Pepper, if set, is mixed in with HMAC-SHA256 before hashing; the
	// hash records its id (PHC "keyid") so a new pepper can be rolled out.
	Pepper logging.Secret
	// MaxConcurrent bounds simultaneous hashes (GOMAXPROCS when zero).
	// Each of the MaxConcurrent slots owns one Argon2id block array,
	// allocated on first use and reused by every later hash, so hashing
	// memory is MaxConcurrent * Params.Memory KiB, never more, and hashes
	// leave no garbage for the collector.
	MaxConcurrent int
	Rand          io.Reader    // crypto/rand when nil
	Tracer        trace.Tracer // spans for each hash ("argon2id"); none when nil
}

// Hasher hashes and verifies passwords. It is safe for concurrent use.
type Hasher struct {
	params  Params
	pepper  []byte
	keyID   string                // PHC keyid of pepper, "" without one
	slots   chan *argon2id.Memory // the semaphore: a free slot is a free block array
	rand    io.Reader
	dummy   string // a hash with the current parameters, for unknown accounts
	maxConc int
	tracer  trace.Tracer
}

// New returns a Hasher. It fails on parameters below the OWASP minimum.
func New(o Options) (*Hasher, error) {
	if o.Params == (Params{}) {
		o.Params = DefaultParams
	}
	if err := o.Params.Validate(); err != nil {
		return nil, err
	}
	if o.MaxConcurrent <= 0 {
		o.MaxConcurrent = runtime.GOMAXPROCS(0)
	}
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
	if o.Tracer == nil {
		o.Tracer = noop.NewTracerProvider().Tracer("")
	}
	h := &Hasher{params: o.Params, slots: make(chan *argon2id.Memory, o.MaxConcurrent), rand: o.Rand, maxConc: o.MaxConcurrent, tracer: o.Tracer}
	for range o.MaxConcurrent {
		h.slots <- new(argon2id.Memory)
	}
	if !o.Pepper.IsZero() {
		h.pepper = []byte(o.Pepper.Reveal())
		h.keyID = pepperID(h.pepper)
	}
	// The dummy hash is of a random password: nothing can match it.
	var pw [32]byte
	if _, err := io.ReadFull(h.rand, pw[:]); err != nil {
		return nil, fmt.Errorf("read dummy password: %w", err)
	}
	dummy, err := h.Hash(context.Background(), base64.RawStdEncoding.EncodeToString(pw[:]))
	if err != nil {
		return nil, err
	}
	h.dummy = dummy
	return h, nil
}

// MemoryBound returns the most memory concurrent hashing can hold, in bytes.
func (h *Hasher) MemoryBound() int64 { return int64(h.maxConc) * int64(h.params.Memory) * 1024 }

// Params returns the parameters new hashes use.
func (h *Hasher) Params() Params { return h.params }

// pepperID names a pepper without revealing it: 6 bytes of its SHA-256.
func pepperID(pepper []byte) string {
	sum := sha256.Sum256(append([]byte("gatehouse/pepper-id/v1:"), pepper...))
	return base64.RawStdEncoding.EncodeToString(sum[:6])
}

// Hash returns the PHC string of password under the current parameters
// and a fresh random salt. It waits for a hashing slot; a cancelled ctx
// returns ctx.Err().
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := io.ReadFull(h.rand, salt); err != nil {
		return "", fmt.Errorf("read salt: %w", err)
	}
	input, keyID := h.input(password, h.keyID != "")
	key, err := h.derive(ctx, input, salt, h.params, keyLen)
	if err != nil {
		return "", err
	}
	return encode(phc{params: h.params, keyID: keyID, salt: salt, key: key}), nil
}

// Verify checks password against a PHC string from [Hasher.Hash]. It
// returns nil on a match, [ErrMismatch], [ErrMalformedHash],
// [ErrUnknownPepper], or ctx.Err().
func (h *Hasher) Verify(ctx context.Context, password, encoded string) error {
	p, err := decode(encoded)
	if err != nil {
		return err
	}
	if p.keyID != "" && p.keyID != h.keyID {
		return ErrUnknownPepper
	}
	input, _ := h.input(password, p.keyID != "")
	key, err := h.derive(ctx, input, p.salt, p.params, uint32(len(p.key)))
	if err != nil {
		return err
	}
	if subtle.ConstantTimeCompare(key, p.key) != 1 {
		return ErrMismatch
	}
	return nil
}

// VerifyDummy spends exactly the work of a failed [Hasher.Verify] with the
// current parameters and returns [ErrMismatch] (or ctx.Err()), so a login
// for an unknown account takes as long as one for a known account.
func (h *Hasher) VerifyDummy(ctx context.Context, password string) error {
	if err := h.Verify(ctx, password, h.dummy); err != nil {
		return err
	}
	return ErrMismatch // unreachable: the dummy password is random
}

// NeedsRehash reports whether encoded was made with other parameters or
// another pepper than new hashes get, so it should be replaced after a
// successful login.
func (h *Hasher) NeedsRehash(encoded string) bool {
	p, err := decode(encoded)
	return err != nil || p.params != h.params || p.keyID != h.keyID || len(p.key) != keyLen
}

// input returns the bytes Argon2id hashes: the password in Unicode NFKC
// (NIST SP 800-63B: one password typed on two keyboards is one password),
// or its HMAC-SHA256 under the pepper when peppered.
func (h *Hasher) input(password string, peppered bool) ([]byte, string) {
	normalized := norm.NFKC.Bytes([]byte(password))
	if !peppered || h.pepper == nil {
		return normalized, ""
	}
	m := hmac.New(sha256.New, h.pepper)
	m.Write(normalized)
	return m.Sum(nil), h.keyID
}

// derive runs Argon2id once a hashing slot is free, in that slot's block
// array. A stored hash with more memory than the current parameters (made
// before they changed) is verified in an array of its own, dropped after,
// so the slots never grow past MemoryBound. Its span covers the wait (an
// event marks the slot) and the hash.
func (h *Hasher) derive(ctx context.Context, input, salt []byte, p Params, n uint32) ([]byte, error) {
	_, span := h.tracer.Start(ctx, "argon2id", trace.WithAttributes(attribute.Int("argon2.memory_kib", int(p.Memory)),
		attribute.Int("argon2.time", int(p.Time)), attribute.Int("argon2.threads", int(p.Threads))))
	defer span.End()
	var slot *argon2id.Memory
	select {
	case slot = <-h.slots:
		span.AddEvent("slot acquired")
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { h.slots <- slot }()
	mem := slot
	if p.Memory > h.params.Memory {
		mem = new(argon2id.Memory)
	}
	return mem.Key(input, salt, argon2id.Params{Type: argon2id.ID, Time: p.Time, Memory: p.Memory, Threads: p.Threads, KeyLen: n}), nil
}
