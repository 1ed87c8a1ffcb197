package store

import (
	"context"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/auditproof"
)

// Outcome is how an audited action ended.
type Outcome string

const (
	OutcomeSuccess Outcome = "success"
	OutcomeFailure Outcome = "failure"
	OutcomeDenied  Outcome = "denied"
)

// AuditEvent is one entry of the append-only audit log. An appended event
// has an ID (unique, increasing but neither gap-free nor in commit order)
// and its leaf hash; the sequencer later integrates it into the Merkle tree
// at position Seq (1-based, gap-free). Metadata is a JSON object with no
// secrets in it (the audit package checks).
type AuditEvent struct {
	ID       int64
	Seq      int64 // 0 until integrated
	Version  int   // 2; 1 for events of the hash chain that came before the tree
	Time     time.Time
	Actor    string // user id, service name or "system"; pseudonymous by construction (DATA-1)
	OrgID    string // empty for events outside any organization
	Action   string // e.g. "auth.login", "credential.revoke"
	Target   string
	Outcome  Outcome
	Network  string // client network prefix, e.g. "203.0.113.0/24"
	Metadata string // canonical JSON object, "{}" when empty
	LeafHash [32]byte
	// XID orders events for the sequencer: the id of the transaction that
	// appended it on PostgreSQL, 0 on SQLite and for version 1 events.
	XID int64
	// ChainSeq and PrevHash are a version 1 event's place and link in the
	// hash chain.
	ChainSeq int64
	PrevHash [32]byte
}

// Proof returns e as the offline verifier sees it.
func (e *AuditEvent) Proof() auditproof.Event {
	return auditproof.Event{Seq: e.Seq, Version: e.Version, Time: e.Time, Actor: e.Actor, OrgID: e.OrgID,
		Action: e.Action, Target: e.Target, Outcome: string(e.Outcome), Network: e.Network, Metadata: e.Metadata,
		ChainSeq: e.ChainSeq, PrevHash: e.PrevHash}
}

// ComputeLeafHash returns the RFC 6962 leaf hash of e's canonical encoding
// ([auditproof.Event.Encode]).
func (e *AuditEvent) ComputeLeafHash() [32]byte { return e.Proof().LeafHash() }

// AuditCheckpoint is the retention mark: retention deleted the contents of
// every event up to Seq, whose leaf hash is Hash. The leaves stay.
type AuditCheckpoint struct {
	Seq  int64
	Hash [32]byte
	Time time.Time
}

// AuditCursor is where the sequencer stands in the committed events: the
// (XID, ID) of the last event it integrated. PostgreSQL events are ordered
// by the id of the transaction that appended them, then by ID; SQLite,
// whose writers are serialized, has XID 0 everywhere.
type AuditCursor struct {
	XID int64
	ID  int64
}

// AuditNodeID names a node of the Merkle tree: Level 0 are the leaves,
// Index counts from the left at that level.
type AuditNodeID struct {
	Level uint
	Index uint64
}

// AuditNode is a node of the tree and its hash.
type AuditNode struct {
	AuditNodeID
	Hash [32]byte
}

// AuditLeaf is an integrated event's place in the tree.
type AuditLeaf struct {
	Seq     int64
	EventID int64
	XID     int64
	OrgID   string
	Hash    [32]byte
}

// AuditTreeHead is a signed checkpoint of the tree: its size, its root and
// the C2SP signed note that carries both.
type AuditTreeHead struct {
	Size int64
	Root [32]byte
	Note string
	Time time.Time
}

// AuditBatch is what one sequencer batch adds to the tree, in one
// transaction: the leaves (Seq following the tree's size without a gap),
// every perfect subtree the leaves complete (level >= 1) and the signed
// checkpoint of the grown tree.
type AuditBatch struct {
	Leaves []AuditLeaf
	Nodes  []AuditNode
	Head   AuditTreeHead
}

// AuditLog stores audit events and the Merkle tree over them. It has no
// method to change or remove an event, a leaf, a node or a checkpoint: on
// PostgreSQL the application role cannot either.
type AuditLog interface {
	// AppendAuditEvent computes e's leaf hash and inserts it, taking no lock
	// that other appends wait on. It returns the stored event (ID set, Seq
	// 0): the sequencer integrates it after it commits.
	AppendAuditEvent(ctx context.Context, e AuditEvent) (AuditEvent, error)
	// AuditEvents returns up to limit committed events with ID > afterID in
	// ID order, integrated (Seq set) or not: for tests and exports of
	// everything, not for ordered reads.
	AuditEvents(ctx context.Context, afterID int64, limit int) ([]AuditEvent, error)
	// IntegratedAuditEvents returns up to limit integrated events with
	// Seq > afterSeq in Seq order. Events whose contents retention deleted
	// are absent: their Seq is skipped.
	IntegratedAuditEvents(ctx context.Context, afterSeq int64, limit int) ([]AuditEvent, error)
	// OrgAuditEvents returns up to limit integrated events of one
	// organization with Seq < before (0 means from the newest), newest first.
	OrgAuditEvents(ctx context.Context, orgID string, before int64, limit int) ([]AuditEvent, error)
	// AuditEventBySeq returns the integrated event at seq, or ErrNotFound
	// (never integrated, or its contents deleted by retention).
	AuditEventBySeq(ctx context.Context, seq int64) (AuditEvent, error)

	// PendingAuditEvents returns up to limit committed events after cur
	// that are final: no transaction still running can commit an event
	// before them in (XID, ID) order. They are what the next batch
	// integrates, in that order.
	PendingAuditEvents(ctx context.Context, cur AuditCursor, limit int) ([]AuditEvent, error)
	// AuditLeaves returns up to limit leaves with Seq > afterSeq, in order.
	AuditLeaves(ctx context.Context, afterSeq int64, limit int) ([]AuditLeaf, error)
	// AuditNodes returns the hashes of the given nodes (leaves at level 0),
	// in the order asked. A node the tree does not have is ErrNotFound.
	AuditNodes(ctx context.Context, ids []AuditNodeID) ([][32]byte, error)
	// AppendAuditBatch stores b. Returns ErrConflict if another batch got
	// there first (a leaf's Seq or event is already in the tree).
	AppendAuditBatch(ctx context.Context, b AuditBatch) error
	// AuditTreeHead returns the newest checkpoint, or a zero head (size 0)
	// for an empty tree.
	AuditTreeHead(ctx context.Context) (AuditTreeHead, error)
	// AuditTreeHeadAt returns the checkpoint of the given size, or
	// ErrNotFound.
	AuditTreeHeadAt(ctx context.Context, size int64) (AuditTreeHead, error)
	// AuditTreeHeads returns up to limit checkpoints with Size > afterSize,
	// in order.
	AuditTreeHeads(ctx context.Context, afterSize int64, limit int) ([]AuditTreeHead, error)

	// AuditCheckpoint returns the retention mark, or a zero mark if
	// retention never ran.
	AuditCheckpoint(ctx context.Context) (AuditCheckpoint, error)

	// AuditSigningKey returns the sealed checkpoint-signing key id and its
	// public note verifier key, or ErrNotFound.
	AuditSigningKey(ctx context.Context, id string) (AuditSigningKey, error)
	// CreateAuditSigningKey stores k. Returns ErrConflict if k.ID exists.
	CreateAuditSigningKey(ctx context.Context, k AuditSigningKey) error
}

// AuditSigningKey is the log's checkpoint-signing key: a note signer key
// sealed (column audit_signing_keys.private_key, see [SealedColumns]) and
// its public verifier key.
type AuditSigningKey struct {
	ID        string
	Sealed    []byte
	KeyID     string // envelope.KeyID(Sealed)
	PublicKey string // note verifier key, "name+hash+base64"
	CreatedAt time.Time
}
