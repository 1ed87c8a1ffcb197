package audit

import (
	"context"
	"errors"
	"fmt"

	"github.com/transparency-dev/merkle/compact"

	"github.com/gatehouse-dev/gatehouse/shared/auditproof"
	"github.com/gatehouse-dev/gatehouse/shared/store"
)

// BrokenLinkError names the first place at which the stored log does not
// verify: an event (Seq) or a checkpoint (Seq is its size).
type BrokenLinkError struct {
	Seq    int64
	Reason string
}

func (e *BrokenLinkError) Error() string {
	return fmt.Sprintf("audit log broken at event %d: %s", e.Seq, e.Reason)
}

// Report summarizes a verified log.
type Report struct {
	Size        int64    // the newest checkpoint's size, verified up to
	Root        [32]byte // its root
	Events      int64    // events whose contents were checked
	Pruned      int64    // leaves whose contents retention deleted
	Checkpoints int64    // signed checkpoints checked
	PublicKey   string   // the key the checkpoints were checked with
}

// VerifyOption adjusts [Verify].
type VerifyOption func(*verifyOptions)

type verifyOptions struct {
	checkpoint func(context.Context, store.AuditCheckpoint) error
	publicKey  string
	progress   func(done, total int64)
}

// Progress makes [Verify] call fn after each page of leaves it checked
// (every 1,000), with how many leaves it checked and how many the newest
// checkpoint holds, on the calling goroutine.
func Progress(fn func(done, total int64)) VerifyOption {
	return func(o *verifyOptions) { o.progress = fn }
}

// CheckCheckpoint makes [Verify] run check on a non-empty retention mark
// before accepting that the events up to it have no contents.
func CheckCheckpoint(check func(context.Context, store.AuditCheckpoint) error) VerifyOption {
	return func(o *verifyOptions) { o.checkpoint = check }
}

// WithPublicKey makes [Verify] check signatures with key (the published
// note verifier key) instead of the one stored beside the log.
func WithPublicKey(key string) VerifyOption {
	return func(o *verifyOptions) { o.publicKey = key }
}

// pageSize is how many leaves, events or checkpoints Verify reads at a time.
const pageSize = 1000

// Verify reads the newest signed checkpoint first and verifies the stored
// log up to it: the checkpoint's signature; every leaf, gap-free, hashing
// to its root; every event's contents matching its leaf (events before the
// retention mark may have none); every version 1 event linking to the one
// before; and every stored checkpoint's signature and root against the
// tree at its size. Events appended or integrated while it runs are past
// the checkpoint and not read, so concurrent appends never raise an alarm.
//
// It returns a [*BrokenLinkError] for the first event or checkpoint that
// was changed, inserted, removed or reordered.
func Verify(ctx context.Context, s store.AuditLog, opts ...VerifyOption) (Report, error) {
	r, err := verify(ctx, s, opts)
	if errors.Is(err, errRetry) {
		r, err = verify(ctx, s, opts)
	}
	return r, err
}

// errRetry means the log's first checkpoint appeared while Verify read it.
var errRetry = errors.New("audit: first checkpoint appeared: verify again")

func verify(ctx context.Context, s store.AuditLog, opts []VerifyOption) (Report, error) {
	var o verifyOptions
	for _, opt := range opts {
		opt(&o)
	}
	var r Report
	head, err := s.AuditTreeHead(ctx)
	if err != nil {
		return r, err
	}
	if r.PublicKey = o.publicKey; r.PublicKey == "" && head.Size > 0 {
		k, err := s.AuditSigningKey(ctx, signingKeyID)
		if err != nil {
			return r, fmt.Errorf("read audit public key: %w", err)
		}
		r.PublicKey = k.PublicKey
	}
	if head.Size == 0 {
		// Leaves with no checkpoint are an alarm, unless the first batch
		// committed since the head was read.
		leaves, err := s.AuditLeaves(ctx, 0, 1)
		if err != nil || len(leaves) == 0 {
			return r, err
		}
		if again, err := s.AuditTreeHead(ctx); err != nil || again.Size > 0 {
			return r, errors.Join(err, errRetry)
		}
		return r, &BrokenLinkError{Seq: 1, Reason: "the log has leaves but no checkpoint"}
	}
	cp, err := openHead(head, r.PublicKey)
	if err != nil {
		return r, err
	}
	r.Size, r.Root = head.Size, cp.Root
	mark, err := s.AuditCheckpoint(ctx)
	if err != nil {
		return r, err
	}
	if mark.Seq > 0 && o.checkpoint != nil {
		if err := o.checkpoint(ctx, mark); err != nil {
			return r, &BrokenLinkError{Seq: mark.Seq, Reason: "retention mark fails its check: " + err.Error()}
		}
	}
	w := &walker{s: s, publicKey: r.PublicKey, mark: mark, rng: rangeFactory.NewEmptyRange(0), report: &r, opts: &o}
	if err := w.walk(ctx, head.Size); err != nil {
		return r, err
	}
	root, err := w.rng.GetRootHash(nil)
	if err != nil {
		return r, err
	}
	if [32]byte(root) != head.Root {
		return r, &BrokenLinkError{Seq: head.Size, Reason: "the leaves do not hash to the newest checkpoint's root"}
	}
	return r, nil
}

// openHead checks a stored checkpoint's note against the key and its
// stored size and root against the note.
func openHead(h store.AuditTreeHead, publicKey string) (auditproof.Checkpoint, error) {
	cp, err := auditproof.OpenCheckpoint([]byte(h.Note), publicKey)
	if err != nil {
		return cp, &BrokenLinkError{Seq: h.Size, Reason: "checkpoint signature: " + err.Error()}
	}
	if int64(cp.Size) != h.Size || cp.Root != h.Root {
		return cp, &BrokenLinkError{Seq: h.Size, Reason: "checkpoint row does not match its signed note"}
	}
	return cp, nil
}

// walker checks leaves, events and checkpoints in one pass up to a size.
type walker struct {
	s         store.AuditLog
	publicKey string
	mark      store.AuditCheckpoint
	rng       *compact.Range
	report    *Report
	opts      *verifyOptions

	events    []store.AuditEvent // the current page, by seq
	heads     []store.AuditTreeHead
	prevChain *[32]byte // chain hash of the previous version 1 event
}

func (w *walker) walk(ctx context.Context, size int64) error {
	for w.rng.End() < uint64(size) {
		after := int64(w.rng.End())
		leaves, err := w.s.AuditLeaves(ctx, after, int(min(pageSize, size-after)))
		if err != nil {
			return err
		}
		if len(leaves) == 0 {
			return &BrokenLinkError{Seq: after + 1, Reason: "leaf missing"}
		}
		for _, l := range leaves {
			if err := w.leaf(ctx, l); err != nil {
				return err
			}
		}
		if w.opts.progress != nil {
			w.opts.progress(int64(w.rng.End()), size)
		}
	}
	return nil
}

func (w *walker) leaf(ctx context.Context, l store.AuditLeaf) error {
	seq := int64(w.rng.End()) + 1
	if l.Seq != seq {
		return &BrokenLinkError{Seq: seq, Reason: fmt.Sprintf("leaf missing: next stored leaf is %d", l.Seq)}
	}
	if err := w.contents(ctx, l); err != nil {
		return err
	}
	if err := w.rng.Append(l.Hash[:], nil); err != nil {
		return err
	}
	return w.checkpoints(ctx, seq)
}

// contents checks the event at leaf l against it.
func (w *walker) contents(ctx context.Context, l store.AuditLeaf) error {
	for len(w.events) > 0 && w.events[0].Seq < l.Seq {
		w.events = w.events[1:]
	}
	if len(w.events) == 0 {
		page, err := w.s.IntegratedAuditEvents(ctx, l.Seq-1, pageSize)
		if err != nil {
			return err
		}
		w.events = page
	}
	if len(w.events) == 0 || w.events[0].Seq != l.Seq {
		return w.pruned(ctx, l.Seq)
	}
	e := w.events[0]
	switch {
	case e.ID != l.EventID:
		return &BrokenLinkError{Seq: l.Seq, Reason: "leaf names another event"}
	case e.Version == 1 && e.LeafHash == [32]byte{}:
		return &BrokenLinkError{Seq: l.Seq, Reason: "contents do not match its hash-chain hash"}
	case e.ComputeLeafHash() != l.Hash:
		return &BrokenLinkError{Seq: l.Seq, Reason: "contents do not match its leaf hash"}
	case e.Version == 1 && w.prevChain != nil && e.PrevHash != *w.prevChain:
		return &BrokenLinkError{Seq: l.Seq, Reason: "does not link to the previous hash-chain event"}
	}
	if e.Version == 1 {
		h := e.Proof().ChainHash()
		w.prevChain = &h
	}
	w.report.Events++
	return nil
}

// pruned accepts an event without contents only at or before the
// retention mark (read again: retention may have moved it meanwhile).
func (w *walker) pruned(ctx context.Context, seq int64) error {
	w.prevChain = nil
	if seq > w.mark.Seq {
		mark, err := w.s.AuditCheckpoint(ctx)
		if err != nil {
			return err
		}
		if seq > mark.Seq {
			return &BrokenLinkError{Seq: seq, Reason: "missing: the event's contents were removed"}
		}
		if w.opts.checkpoint != nil {
			if err := w.opts.checkpoint(ctx, mark); err != nil {
				return &BrokenLinkError{Seq: mark.Seq, Reason: "retention mark fails its check: " + err.Error()}
			}
		}
		w.mark = mark
	}
	w.report.Pruned++
	return nil
}

// checkpoints checks every stored checkpoint of size seq.
func (w *walker) checkpoints(ctx context.Context, seq int64) error {
	if len(w.heads) == 0 || w.heads[len(w.heads)-1].Size < seq {
		page, err := w.s.AuditTreeHeads(ctx, seq-1, pageSize)
		if err != nil {
			return err
		}
		w.heads = page
	}
	for len(w.heads) > 0 && w.heads[0].Size < seq {
		w.heads = w.heads[1:]
	}
	if len(w.heads) == 0 || w.heads[0].Size != seq {
		return nil
	}
	h := w.heads[0]
	cp, err := openHead(h, w.publicKey)
	if err != nil {
		return err
	}
	root, err := w.rng.GetRootHash(nil)
	if err != nil {
		return err
	}
	if cp.Root != [32]byte(root) {
		return &BrokenLinkError{Seq: seq, Reason: "checkpoint root does not match the leaves before it"}
	}
	w.report.Checkpoints++
	return nil
}
