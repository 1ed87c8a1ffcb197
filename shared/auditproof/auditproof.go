// Package auditproof checks Gatehouse audit-log proofs offline, with only
// the log's public key: signed checkpoints (C2SP tlog-checkpoint signed
// notes), inclusion of an event in a checkpoint and consistency of two
// checkpoints, over the RFC 6962 Merkle tree the log is. It imports nothing
// of the server, so an auditor or a customer can vendor it alone.
//
// The hashing and the proof checks are github.com/transparency-dev/merkle's;
// the checkpoint format is github.com/transparency-dev/formats' over
// golang.org/x/mod/sumdb/note. This package adds only the canonical encoding
// of an event (what its leaf hash commits to) and the JSON bundles the
// server hands out.
package auditproof

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	tlog "github.com/transparency-dev/formats/log"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
)

// ErrProof means a proof, a checkpoint or an event does not verify: it was
// changed, it belongs to another log, or it was never in the log.
var ErrProof = errors.New("auditproof: does not verify")

// Event is an audit event as the log commits to it. Seq is its 1-based
// position in the log (leaf index + 1). Version 2 is the encoding of every
// event appended since the log became a Merkle tree; version 1 events were
// appended to the hash chain that came before and carry that chain's
// sequence number and link (PrevHash) in their encoding.
type Event struct {
	Seq      int64     `json:"seq"`
	Version  int       `json:"version"`
	Time     time.Time `json:"time"`
	Actor    string    `json:"actor"`
	OrgID    string    `json:"org_id"`
	Action   string    `json:"action"`
	Target   string    `json:"target"`
	Outcome  string    `json:"outcome"`
	Network  string    `json:"network"`
	Metadata string    `json:"metadata"`
	// ChainSeq and PrevHash are the hash chain's sequence number and link,
	// for version 1 events only.
	ChainSeq int64    `json:"chain_seq,omitempty"`
	PrevHash HashJSON `json:"prev_hash,omitzero"`
}

// Encode returns the canonical encoding of e: a version label, the time in
// UTC microseconds and every text field length-prefixed, so no two events
// encode alike. It is the leaf data of the Merkle tree.
func (e Event) Encode() []byte {
	var b []byte
	field := func(s string) {
		b = binary.BigEndian.AppendUint64(b, uint64(len(s)))
		b = append(b, s...)
	}
	if e.Version == 1 {
		b = append(b, "gatehouse/audit/v1"...)
		b = binary.BigEndian.AppendUint64(b, uint64(e.ChainSeq))
	} else {
		b = append(b, "gatehouse/audit/v2"...)
	}
	b = binary.BigEndian.AppendUint64(b, uint64(e.Time.UTC().UnixMicro()))
	for _, s := range []string{e.Actor, e.OrgID, e.Action, e.Target, e.Outcome, e.Network, e.Metadata} {
		field(s)
	}
	if e.Version == 1 {
		b = append(b, e.PrevHash[:]...)
	}
	return b
}

// ChainHash is the version 1 hash chain's digest of e (SHA-256 of its
// encoding): what the next version 1 event links to.
func (e Event) ChainHash() [32]byte { return sha256.Sum256(e.Encode()) }

// LeafHash returns the RFC 6962 leaf hash of e's encoding.
func (e Event) LeafHash() [32]byte { return LeafHash(e.Encode()) }

// LeafHash returns the RFC 6962 leaf hash of data: SHA-256(0x00 || data).
func LeafHash(data []byte) [32]byte {
	return [32]byte(rfc6962.DefaultHasher.HashLeaf(data))
}

// HashChildren returns the RFC 6962 interior node hash of two children.
func HashChildren(left, right []byte) []byte {
	return rfc6962.DefaultHasher.HashChildren(left, right)
}

// Checkpoint is a verified signed checkpoint: the log's size and root hash.
type Checkpoint struct {
	Origin string
	Size   uint64
	Root   [32]byte
	Note   []byte // the signed note, as given
}

// OpenCheckpoint verifies the signed note against the log's public key
// (a note verifier key, "name+hash+base64") and parses it. The checkpoint's
// origin must be the key's name. Returns an error wrapping [ErrProof] for a
// bad signature, another key or a malformed checkpoint.
func OpenCheckpoint(signed []byte, publicKey string) (Checkpoint, error) {
	v, err := note.NewVerifier(publicKey)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("audit public key: %w", err)
	}
	cp, _, _, err := tlog.ParseCheckpoint(signed, v.Name(), v)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("%w: checkpoint: %v", ErrProof, err)
	}
	if len(cp.Hash) != sha256.Size {
		return Checkpoint{}, fmt.Errorf("%w: checkpoint root is %d bytes", ErrProof, len(cp.Hash))
	}
	return Checkpoint{Origin: cp.Origin, Size: cp.Size, Root: [32]byte(cp.Hash), Note: signed}, nil
}

// CheckpointText returns the unsigned checkpoint body for origin, size and
// root, as a log signs it.
func CheckpointText(origin string, size uint64, root [32]byte) string {
	return string(tlog.Checkpoint{Origin: origin, Size: size, Hash: root[:]}.Marshal())
}

// VerifyInclusion checks that leafHash is the leaf at seq (1-based) of the
// tree cp signs, with the proof's sibling hashes.
func VerifyInclusion(cp Checkpoint, seq int64, leafHash [32]byte, hashes []HashJSON) error {
	if seq < 1 || uint64(seq) > cp.Size {
		return fmt.Errorf("%w: event %d is not in a log of %d events", ErrProof, seq, cp.Size)
	}
	if err := proof.VerifyInclusion(rfc6962.DefaultHasher, uint64(seq-1), cp.Size, leafHash[:], raw(hashes), cp.Root[:]); err != nil {
		return fmt.Errorf("%w: inclusion of event %d in checkpoint %d: %v", ErrProof, seq, cp.Size, err)
	}
	return nil
}

// VerifyConsistency checks that the tree newer signs extends the tree older
// signs: every event of older is in newer, unchanged and in the same place.
func VerifyConsistency(older, newer Checkpoint, hashes []HashJSON) error {
	if older.Origin != newer.Origin {
		return fmt.Errorf("%w: checkpoints of two logs (%q, %q)", ErrProof, older.Origin, newer.Origin)
	}
	if err := proof.VerifyConsistency(rfc6962.DefaultHasher, older.Size, newer.Size, raw(hashes), older.Root[:], newer.Root[:]); err != nil {
		return fmt.Errorf("%w: consistency of checkpoints %d and %d: %v", ErrProof, older.Size, newer.Size, err)
	}
	return nil
}

func raw(hs []HashJSON) [][]byte {
	out := make([][]byte, len(hs))
	for i := range hs {
		out[i] = hs[i][:]
	}
	return out
}

// HashJSON is a SHA-256 hash that encodes as standard base64 in JSON.
type HashJSON [32]byte

// MarshalText implements encoding.TextMarshaler.
func (h HashJSON) MarshalText() ([]byte, error) {
	return []byte(base64.StdEncoding.EncodeToString(h[:])), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (h *HashJSON) UnmarshalText(b []byte) error {
	raw, err := base64.StdEncoding.DecodeString(string(b))
	if err != nil || len(raw) != len(h) {
		return fmt.Errorf("%w: a hash is not 32 bytes of base64", ErrProof)
	}
	copy(h[:], raw)
	return nil
}
