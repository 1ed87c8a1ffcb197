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

// pageSize is how many events Verify reads at a time.
const pageSize = 1000

// Verify walks the whole retained chain, from the retention checkpoint to
// the head, recomputing every hash. It returns a [*BrokenLinkError] for the
// first event that was changed, inserted, removed or reordered, or whose
// successor's link does not match; a chain whose last events were removed
// is caught against the stored head.
func Verify(ctx context.Context, s store.AuditLog) (Report, error) {
	cp, err := s.AuditCheckpoint(ctx)
	if err != nil {
		return Report{}, err
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
