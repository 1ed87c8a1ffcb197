package envelope

import (
	"encoding/binary"
	"fmt"
)

// Ciphertext format, version 1:
//
//	offset  size  field
//	0       1     format version, 0x01
//	1       1     n, length of the data-key id, 1..maxIDLen
//	2       n     data-key id, bytes of [A-Za-z0-9_-]
//	2+n     12    random nonce
//	14+n    >=16  AES-256-GCM ciphertext and 16-byte tag
//
// The header (bytes 0..2+n) and the encoded [Binding] are the GCM associated
// data. The nonce is random: a data key seals far fewer than 2^32 messages
// before rotation, which keeps the nonce-collision risk negligible.
const (
	formatV1  = 0x01
	maxIDLen  = 64
	nonceSize = 12
	tagSize   = 16
	// minV1 is the size of a v1 ciphertext with a 1-byte id and empty plaintext.
	minV1 = 2 + 1 + nonceSize + tagSize
)

// header is the parsed, self-describing prefix of a ciphertext.
type header struct {
	raw   []byte // bytes 0..2+n of the ciphertext
	id    []byte // data-key id
	nonce []byte
	box   []byte // GCM ciphertext || tag
}

// parseHeader splits a ciphertext without decrypting it. It returns
// [ErrMalformed] for anything that is not a well-formed v1 ciphertext, and
// never panics on any input.
func parseHeader(ct []byte) (header, error) {
	if len(ct) < minV1 {
		return header{}, fmt.Errorf("%w: %d bytes is too short", ErrMalformed, len(ct))
	}
	if ct[0] != formatV1 {
		return header{}, fmt.Errorf("%w: unknown format version %d", ErrMalformed, ct[0])
	}
	n := int(ct[1])
	if len(ct) < 2+n+nonceSize+tagSize {
		return header{}, fmt.Errorf("%w: truncated", ErrMalformed)
	}
	id := ct[2 : 2+n]
	if err := checkKeyID(id); err != nil {
		return header{}, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return header{
		raw:   ct[:2+n],
		id:    id,
		nonce: ct[2+n : 2+n+nonceSize],
		box:   ct[2+n+nonceSize:],
	}, nil
}

// checkKeyID accepts 1..maxIDLen bytes of [A-Za-z0-9_-].
func checkKeyID[T string | []byte](id T) error {
	if len(id) == 0 || len(id) > maxIDLen {
		return fmt.Errorf("data key id length %d out of range 1..%d", len(id), maxIDLen)
	}
	for i := range len(id) {
		c := id[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
		if !ok {
			return fmt.Errorf("data key id has byte 0x%02x at %d", c, i)
		}
	}
	return nil
}

// appendHeader appends the v1 header for keyID, which checkKeyID accepted.
func appendHeader(dst []byte, keyID string) []byte {
	dst = append(dst, formatV1, byte(len(keyID)))
	return append(dst, keyID...)
}

// Binding names the one place a ciphertext belongs: the organization, the
// record id and the field within the record. Together with the [Purpose] it
// is authenticated as associated data, so a ciphertext copied to another
// organization, record, field or purpose fails to open (CRED-1). Fields may
// be empty (a system-wide secret has no organization) but must then be empty
// at both Seal and Open.
type Binding struct {
	Org    string
	Record string
	Field  string
}

// appendAAD appends the associated data: the ciphertext header, then the
// purpose and the binding, each as a 4-byte big-endian length and its bytes.
// The length prefixes make the encoding injective: no two (purpose, binding)
// pairs produce the same bytes.
func appendAAD(dst, hdr []byte, p Purpose, b Binding) []byte {
	dst = append(dst, hdr...)
	for _, s := range [...]string{string(p), b.Org, b.Record, b.Field} {
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(s)))
		dst = append(dst, s...)
	}
	return dst
}

// aadSize is the length appendAAD will produce for a header of hdrLen bytes.
func aadSize(hdrLen int, p Purpose, b Binding) int {
	return hdrLen + 16 + len(p) + len(b.Org) + len(b.Record) + len(b.Field)
}

// checkBinding rejects fields whose length does not fit the 4-byte prefix.
func checkBinding(b Binding) error {
	const limit = 1<<32 - 1
	if uint64(len(b.Org)) > limit || uint64(len(b.Record)) > limit || uint64(len(b.Field)) > limit {
		return fmt.Errorf("envelope: binding field longer than %d bytes", limit)
	}
	return nil
}
