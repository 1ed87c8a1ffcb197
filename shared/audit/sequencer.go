package audit

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/transparency-dev/merkle/compact"

	"github.com/gatehouse-dev/gatehouse/shared/auditproof"
	"github.com/gatehouse-dev/gatehouse/shared/store"
)

// LeaseName is the store lease that keeps integration to one holder.
const LeaseName = "audit-sequencer"

// Sequencer settings.
const (
	// BatchSize bounds the events one batch (one transaction, one
	// checkpoint) integrates.
	BatchSize = 2000
	// leaseTTL is how long a crashed holder keeps others out.
	leaseTTL = 10 * time.Second
	// hotInterval is how often an instance that recorded an event in the
	// last hotWindow tries to integrate; idleInterval otherwise. It bounds
	// checkpoints to 4 a second (each a row and a log line) while keeping
	// integration well within a second.
	hotInterval  = 250 * time.Millisecond
	hotWindow    = 3 * time.Second
	idleInterval = 5 * time.Second
)

var rangeFactory = &compact.RangeFactory{Hash: auditproof.HashChildren}

// Sequencer integrates committed events into the Merkle tree, one batch
// per transaction: it reads the tree's frontier, the next final pending
// events (see [store.AuditLog.PendingAuditEvents]), appends their leaves,
// signs a checkpoint of the grown tree and stores leaves, completed nodes
// and checkpoint together. A batch that fails or is interrupted leaves
// nothing behind and is redone by the next holder; two batches for the
// same place cannot both commit (the leaves' primary key), so integration
// neither loses nor duplicates an event whatever crashes where.
type Sequencer struct {
	store  store.Store
	signer *Signer
	logger *slog.Logger
	now    func() time.Time
	holder string
	batch  int

	wake     chan struct{}
	mu       sync.Mutex
	lastWake time.Time
}

// NewSequencer returns a sequencer over s that signs with signer and logs
// each checkpoint to logger (nil for none).
func NewSequencer(s store.Store, signer *Signer, logger *slog.Logger, now func() time.Time) *Sequencer {
	if now == nil {
		now = time.Now
	}
	var id [8]byte
	rand.Read(id[:])
	return &Sequencer{store: s, signer: signer, logger: logger, now: now, holder: "sequencer-" + hex.EncodeToString(id[:]),
		batch: BatchSize, wake: make(chan struct{}, 1)}
}

// Signer returns the sequencer's checkpoint signer.
func (q *Sequencer) Signer() *Signer { return q.signer }

// Wake tells the sequencer an event was recorded: it integrates soon and
// keeps trying often for a while. It never blocks.
func (q *Sequencer) Wake() {
	q.mu.Lock()
	q.lastWake = time.Now()
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// Run integrates until ctx ends: every hotInterval while this instance
// recorded events in the last hotWindow, else every idleInterval. Each
// attempt takes the lease if it is free, integrates everything final and
// releases it; if another instance holds it, that holder integrates and
// this one tries again at its next tick. Errors are logged, never fatal.
func (q *Sequencer) Run(ctx context.Context) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-q.wake:
			// Let the transaction that woke us commit, and batch with its
			// neighbours.
			if !sleep(ctx, hotInterval) {
				return
			}
		case <-t.C:
		}
		if _, err := q.Integrate(ctx); err != nil && ctx.Err() == nil && !errors.Is(err, store.ErrConflict) && q.logger != nil {
			q.logger.LogAttrs(ctx, slog.LevelError, "audit sequencer", slog.String("error", err.Error()))
		}
		q.mu.Lock()
		hot := time.Since(q.lastWake) < hotWindow
		q.mu.Unlock()
		if hot {
			t.Reset(hotInterval)
		} else {
			t.Reset(idleInterval)
		}
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// Integrate takes the lease and integrates batches until no final event
// is left, then releases it. It returns how many events it integrated,
// and an error wrapping store.ErrConflict when another holder has the
// lease (that holder integrates instead).
func (q *Sequencer) Integrate(ctx context.Context) (int, error) {
	now := q.now()
	_, err := q.store.AcquireLease(ctx, store.Lease{Name: LeaseName, Holder: q.holder, RunID: q.holder,
		Expires: now.Add(leaseTTL)}, now)
	if err != nil {
		return 0, err
	}
	defer q.store.ReleaseLease(context.WithoutCancel(ctx), LeaseName, q.holder)
	total := 0
	for {
		n, err := q.IntegrateBatch(ctx)
		total += n
		if err != nil || n < q.batch {
			return total, err
		}
		if err := q.store.RenewLease(ctx, LeaseName, q.holder, q.now().Add(leaseTTL), q.now()); err != nil {
			return total, err
		}
	}
}

// IntegrateBatch integrates up to one batch of final events in one
// transaction and returns how many. The caller holds the lease; without
// it the batch is still safe (a concurrent batch makes one of the two fail
// with store.ErrConflict), only wasted.
func (q *Sequencer) IntegrateBatch(ctx context.Context) (int, error) {
	// The key is read (or created) before the transaction: SQLite
	// writers wait for each other, and signing writes nothing.
	key, err := q.signer.key(ctx)
	if err != nil {
		return 0, fmt.Errorf("integrate audit events: %w", err)
	}
	var head store.AuditTreeHead
	var n int
	err = q.store.Tx(ctx, func(tx store.Store) error {
		var err error
		head, n, err = q.batchTx(ctx, tx, key)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("integrate audit events: %w", err)
	}
	if n > 0 && q.logger != nil {
		q.logCheckpoint(ctx, head, n)
	}
	return n, nil
}

func (q *Sequencer) batchTx(ctx context.Context, tx store.Store, key store.AuditSigningKey) (store.AuditTreeHead, int, error) {
	rng, cur, err := frontier(ctx, tx)
	if err != nil {
		return store.AuditTreeHead{}, 0, err
	}
	pending, err := tx.PendingAuditEvents(ctx, cur, q.batch)
	if err != nil || len(pending) == 0 {
		return store.AuditTreeHead{}, 0, err
	}
	b := store.AuditBatch{Leaves: make([]store.AuditLeaf, 0, len(pending))}
	visit := func(id compact.NodeID, h []byte) {
		if id.Level > 0 {
			b.Nodes = append(b.Nodes, store.AuditNode{AuditNodeID: store.AuditNodeID{Level: id.Level, Index: id.Index}, Hash: [32]byte(h)})
		}
	}
	for _, e := range pending {
		if e.LeafHash == ([32]byte{}) {
			return store.AuditTreeHead{}, 0, fmt.Errorf("audit event %d does not match its hash chain: refusing to integrate it", e.ID)
		}
		seq := int64(rng.End()) + 1
		b.Leaves = append(b.Leaves, store.AuditLeaf{Seq: seq, EventID: e.ID, XID: e.XID, OrgID: e.OrgID, Hash: e.LeafHash})
		if err := rng.Append(e.LeafHash[:], visit); err != nil {
			return store.AuditTreeHead{}, 0, err
		}
	}
	root, err := rng.GetRootHash(nil)
	if err != nil {
		return store.AuditTreeHead{}, 0, err
	}
	name, err := keyName(key)
	if err != nil {
		return store.AuditTreeHead{}, 0, err
	}
	b.Head = store.AuditTreeHead{Size: int64(rng.End()), Root: [32]byte(root), Time: q.now().UTC().Truncate(time.Microsecond)}
	note, err := q.signer.sign(ctx, key, auditproof.CheckpointText(name, rng.End(), b.Head.Root))
	if err != nil {
		return store.AuditTreeHead{}, 0, err
	}
	b.Head.Note = string(note)
	if err := tx.AppendAuditBatch(ctx, b); err != nil {
		return store.AuditTreeHead{}, 0, err
	}
	return b.Head, len(pending), nil
}

// frontier returns the compact range of the whole tree, checked against
// the newest checkpoint's root, and the cursor after its last leaf.
func frontier(ctx context.Context, s store.AuditLog) (*compact.Range, store.AuditCursor, error) {
	head, err := s.AuditTreeHead(ctx)
	if err != nil {
		return nil, store.AuditCursor{}, err
	}
	size := uint64(head.Size)
	ids := compact.RangeNodes(0, size, nil)
	hashes, err := nodeHashes(ctx, s, ids)
	if err != nil {
		return nil, store.AuditCursor{}, err
	}
	rng, err := rangeFactory.NewRange(0, size, hashes)
	if err != nil {
		return nil, store.AuditCursor{}, err
	}
	if size == 0 {
		return rng, store.AuditCursor{}, nil
	}
	if root, err := rng.GetRootHash(nil); err != nil || [32]byte(root) != head.Root {
		return nil, store.AuditCursor{}, fmt.Errorf("audit tree nodes do not hash to checkpoint %d's root: refusing to grow it", size)
	}
	last, err := s.AuditLeaves(ctx, head.Size-1, 1)
	if err != nil {
		return nil, store.AuditCursor{}, err
	}
	if len(last) != 1 || last[0].Seq != head.Size {
		return nil, store.AuditCursor{}, fmt.Errorf("audit leaf %d is missing: %w", head.Size, store.ErrNotFound)
	}
	return rng, store.AuditCursor{XID: last[0].XID, ID: last[0].EventID}, nil
}

// nodeHashes reads the hashes of ids from the store.
func nodeHashes(ctx context.Context, s store.AuditLog, ids []compact.NodeID) ([][]byte, error) {
	want := make([]store.AuditNodeID, len(ids))
	for i, id := range ids {
		want[i] = store.AuditNodeID{Level: id.Level, Index: id.Index}
	}
	got, err := s.AuditNodes(ctx, want)
	if err != nil {
		return nil, err
	}
	out := make([][]byte, len(got))
	for i := range got {
		out[i] = got[i][:]
	}
	return out, nil
}

// logCheckpoint writes the checkpoint as a structured log line that the
// log sink routes to the locked bucket ("log_type":"audit",
// "action":"audit.checkpoint"): an operator with database access cannot
// rewrite history without disagreeing with the exported checkpoints.
func (q *Sequencer) logCheckpoint(ctx context.Context, h store.AuditTreeHead, n int) {
	q.logger.LogAttrs(ctx, slog.LevelInfo, "audit checkpoint",
		slog.String("log_type", "audit"),
		slog.String("action", "audit.checkpoint"),
		slog.Int64("checkpoint_size", h.Size),
		slog.String("checkpoint_root", base64.StdEncoding.EncodeToString(h.Root[:])),
		slog.Int("integrated", n),
		slog.String("checkpoint", h.Note))
}
