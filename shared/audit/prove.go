package audit

import (
	"context"
	"errors"
	"fmt"

	"github.com/transparency-dev/merkle/proof"

	"github.com/gatehouse-dev/gatehouse/shared/auditproof"
	"github.com/gatehouse-dev/gatehouse/shared/store"
)

// ErrNoProof means the proof asked for cannot exist: the event is not
// integrated in the checkpoint, or no checkpoint has the size asked.
var ErrNoProof = errors.New("audit: no such proof")

// Nodes reads tree nodes by id; a store is one.
type Nodes interface {
	AuditNodes(ctx context.Context, ids []store.AuditNodeID) ([][32]byte, error)
}

// InclusionHashes returns the inclusion proof of leaf seq (1-based) in the
// tree of size, read from nodes: the node ids that transparency-dev/merkle
// names for it, rehashed where the tree's right edge is not perfect.
func InclusionHashes(ctx context.Context, n Nodes, seq, size int64) ([]auditproof.HashJSON, error) {
	if seq < 1 || seq > size {
		return nil, fmt.Errorf("%w: event %d in a log of %d", ErrNoProof, seq, size)
	}
	p, err := proof.Inclusion(uint64(seq-1), uint64(size))
	if err != nil {
		return nil, err
	}
	return fetch(ctx, n, p)
}

// ConsistencyHashes returns the consistency proof from the tree of size
// older to the tree of size newer.
func ConsistencyHashes(ctx context.Context, n Nodes, older, newer int64) ([]auditproof.HashJSON, error) {
	if older < 1 || older > newer {
		return nil, fmt.Errorf("%w: sizes %d and %d", ErrNoProof, older, newer)
	}
	p, err := proof.Consistency(uint64(older), uint64(newer))
	if err != nil {
		return nil, err
	}
	return fetch(ctx, n, p)
}

func fetch(ctx context.Context, n Nodes, p proof.Nodes) ([]auditproof.HashJSON, error) {
	ids := make([]store.AuditNodeID, len(p.IDs))
	for i, id := range p.IDs {
		ids[i] = store.AuditNodeID{Level: id.Level, Index: id.Index}
	}
	got, err := n.AuditNodes(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("read proof nodes: %w", err)
	}
	hashes := make([][]byte, len(got))
	for i := range got {
		hashes[i] = got[i][:]
	}
	hashes, err = p.Rehash(hashes, auditproof.HashChildren)
	if err != nil {
		return nil, err
	}
	out := make([]auditproof.HashJSON, len(hashes))
	for i, h := range hashes {
		out[i] = auditproof.HashJSON(h)
	}
	return out, nil
}

// Prover makes proofs from the stored log.
type Prover struct {
	store store.AuditLog
}

// NewProver returns a prover over s.
func NewProver(s store.AuditLog) *Prover { return &Prover{store: s} }

// checkpoint returns the checkpoint of size, or the newest when size is 0.
func (p *Prover) checkpoint(ctx context.Context, size int64) (store.AuditTreeHead, error) {
	if size == 0 {
		h, err := p.store.AuditTreeHead(ctx)
		if err == nil && h.Size == 0 {
			err = fmt.Errorf("%w: the log has no checkpoint yet", ErrNoProof)
		}
		return h, err
	}
	h, err := p.store.AuditTreeHeadAt(ctx, size)
	if errors.Is(err, store.ErrNotFound) {
		return h, fmt.Errorf("%w: no checkpoint of size %d", ErrNoProof, size)
	}
	return h, err
}

// Inclusion proves event ev (integrated, with its contents) in the
// checkpoint of size (0: the newest).
func (p *Prover) Inclusion(ctx context.Context, ev store.AuditEvent, size int64) (auditproof.InclusionBundle, error) {
	h, err := p.checkpoint(ctx, size)
	if err != nil {
		return auditproof.InclusionBundle{}, err
	}
	if ev.Seq < 1 || ev.Seq > h.Size {
		return auditproof.InclusionBundle{}, fmt.Errorf("%w: event %d is not in checkpoint %d", ErrNoProof, ev.Seq, h.Size)
	}
	hashes, err := InclusionHashes(ctx, p.store, ev.Seq, h.Size)
	if err != nil {
		return auditproof.InclusionBundle{}, err
	}
	return auditproof.InclusionBundle{Checkpoint: h.Note, Event: ev.Proof(), Hashes: hashes}, nil
}

// Consistency proves that checkpoint newer (0: the newest) extends
// checkpoint older.
func (p *Prover) Consistency(ctx context.Context, older, newer int64) (auditproof.ConsistencyBundle, error) {
	o, err := p.checkpoint(ctx, older)
	if err != nil {
		return auditproof.ConsistencyBundle{}, err
	}
	n, err := p.checkpoint(ctx, newer)
	if err != nil {
		return auditproof.ConsistencyBundle{}, err
	}
	if o.Size > n.Size {
		return auditproof.ConsistencyBundle{}, fmt.Errorf("%w: checkpoint %d is older than %d", ErrNoProof, n.Size, o.Size)
	}
	hashes, err := ConsistencyHashes(ctx, p.store, o.Size, n.Size)
	if err != nil {
		return auditproof.ConsistencyBundle{}, err
	}
	return auditproof.ConsistencyBundle{Older: o.Note, Newer: n.Note, Hashes: hashes}, nil
}
