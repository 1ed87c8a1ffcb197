package audit

import (
	"context"
	"fmt"

	"github.com/gatehouse-dev/gatehouse/shared/store"
)

// BrokenLinkError names the first event at which the chain does not hold.
type BrokenLinkError struct {
	Seq    int64
	Reason string
}

func (e *BrokenLinkError) Error() string {
	return fmt.Sprintf("audit chain broken at event %d: %s", e.Seq, e.Reason)
}

// Report summarizes a verified chain.
type Report struct {
	From, To int64 // first and last sequence number checked (From > To when empty)
	Events   int64
	Head     [32]byte
}

// VerifyOption adjusts [Verify].
type VerifyOption func(*verifyOptions)

type verifyOptions struct {
	checkpoint func(context.Context, store.AuditCheckpoint) error
}

// CheckCheckpoint makes [Verify] run check on a non-empty retention
// checkpoint before trusting the chain that starts there.
func CheckCheckpoint(check func(context.Context, store.AuditCheckpoint) error) VerifyOption {
	return func(o *verifyOptions) { o.checkpoint = check }
}

// pageSize is how many events Verify reads at a time.
const pageSize = 1000

// Verify walks the whole retained chain, from the retention checkpoint to
// the head, recomputing every hash. It returns a [*BrokenLinkError] for the
// first event that was changed, inserted, removed or reordered, or whose
// successor's link does not match; a chain whose last events were removed
// is caught against the stored head.
//
// With [CheckCheckpoint], a chain that starts at a retention checkpoint is
// trusted only if the checkpoint itself passes the given check (its
// signature): otherwise anyone able to write the checkpoint could hide the
// events before it.
func Verify(ctx context.Context, s store.AuditLog, opts ...VerifyOption) (Report, error) {
	var o verifyOptions
	for _, opt := range opts {
		opt(&o)
	}
	cp, err := s.AuditCheckpoint(ctx)
	if err != nil {
		return Report{}, err
	}
	if cp.Seq > 0 && o.checkpoint != nil {
		if err := o.checkpoint(ctx, cp); err != nil {
			return Report{}, &BrokenLinkError{Seq: cp.Seq, Reason: "retention checkpoint fails its check: " + err.Error()}
		}
	}
	r := Report{From: cp.Seq + 1, To: cp.Seq, Head: cp.Hash}
	for {
		page, err := s.AuditEvents(ctx, r.To, pageSize)
		if err != nil {
			return r, err
		}
		for _, e := range page {
			if err := checkLink(e, r.To+1, r.Head); err != nil {
				return r, err
			}
			r.To, r.Head = e.Seq, e.Hash
			r.Events++
		}
		if len(page) < pageSize {
			break
		}
	}
	seq, head, err := s.AuditHead(ctx)
	if err != nil {
		return r, err
	}
	if seq != r.To || head != r.Head {
		return r, &BrokenLinkError{Seq: r.To + 1, Reason: fmt.Sprintf("chain ends at event %d but the head records event %d", r.To, seq)}
	}
	return r, nil
}

func checkLink(e store.AuditEvent, wantSeq int64, prev [32]byte) error {
	switch {
	case e.Seq != wantSeq:
		return &BrokenLinkError{Seq: wantSeq, Reason: fmt.Sprintf("missing: next stored event is %d", e.Seq)}
	case e.PrevHash != prev:
		return &BrokenLinkError{Seq: e.Seq, Reason: "does not link to the previous event's hash"}
	case e.Hash != e.Digest():
		return &BrokenLinkError{Seq: e.Seq, Reason: "contents do not match its hash"}
	}
	return nil
}
