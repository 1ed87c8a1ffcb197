package store

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"time"
)

// Outcome is how an audited action ended.
type Outcome string

const (
	OutcomeSuccess Outcome = "success"
	OutcomeFailure Outcome = "failure"
	OutcomeDenied  Outcome = "denied"
)

// AuditEvent is one entry of the append-only, hash-chained audit log.
// Metadata is a JSON object with no secrets in it (the audit package checks).
type AuditEvent struct {
	Seq      int64 // 1-based position in the chain, assigned by the store
	Time     time.Time
	Actor    string // user id, service name or "system"; pseudonymized on account deletion
	OrgID    string // empty for events outside any organization
	Action   string // e.g. "auth.login", "credential.revoke"
	Target   string
	Outcome  Outcome
	Network  string // client network prefix, e.g. "203.0.113.0/24"
	Metadata string // canonical JSON object, "{}" when empty
	PrevHash [32]byte
	Hash     [32]byte
}

// AuditCheckpoint records where the retained chain starts after older events
// were deleted: the last deleted event's sequence number and hash.
type AuditCheckpoint struct {
	Seq  int64
	Hash [32]byte
	Time time.Time
}

// Digest returns the SHA-256 of the event's canonical encoding: every field
// but Hash, each length-prefixed so that no two events encode alike. Times are
// encoded as UTC microseconds, the precision every store keeps.
func (e *AuditEvent) Digest() [32]byte {
	h := sha256.New()
	var n [8]byte
	field := func(s string) {
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	h.Write([]byte("gatehouse/audit/v1"))
	binary.BigEndian.PutUint64(n[:], uint64(e.Seq))
	h.Write(n[:])
	binary.BigEndian.PutUint64(n[:], uint64(e.Time.UTC().UnixMicro()))
	h.Write(n[:])
	for _, s := range []string{e.Actor, e.OrgID, e.Action, e.Target, string(e.Outcome), e.Network, e.Metadata} {
		field(s)
	}
	h.Write(e.PrevHash[:])
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// AuditLog stores audit events. It has no method to change or remove an
// event: on PostgreSQL the application role cannot either.
type AuditLog interface {
	// AppendAuditEvent assigns e the next sequence number, links it to the
	// previous event's hash, computes its hash and inserts it. Concurrent
	// appends are serialized so the chain never forks. It returns the stored
	// event.
	AppendAuditEvent(ctx context.Context, e AuditEvent) (AuditEvent, error)
	// AuditEvents returns up to limit events with Seq > after, in order.
	AuditEvents(ctx context.Context, after int64, limit int) ([]AuditEvent, error)
	// OrgAuditEvents returns up to limit events of one organization with
	// Seq < before (0 means from the newest), newest first.
	OrgAuditEvents(ctx context.Context, orgID string, before int64, limit int) ([]AuditEvent, error)
	// AuditHead returns the sequence number and hash of the newest event
	// (0 and a zero hash when the log is empty).
	AuditHead(ctx context.Context) (seq int64, hash [32]byte, err error)
	// AuditCheckpoint returns the retention checkpoint, or a zero
	// checkpoint if no event was ever deleted.
	AuditCheckpoint(ctx context.Context) (AuditCheckpoint, error)
}
