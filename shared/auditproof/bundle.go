package auditproof

import "fmt"

// InclusionBundle is what the server hands out to prove that an event is in
// the log: the event, the signed checkpoint it is proven against and the
// sibling hashes from its leaf to the checkpoint's root.
type InclusionBundle struct {
	Checkpoint string     `json:"checkpoint"` // signed note
	Event      Event      `json:"event"`
	Hashes     []HashJSON `json:"hashes"`
}

// Verify checks b with only the log's public key: the checkpoint's
// signature, then the event's leaf hash up to its root. It returns the
// checkpoint, or an error wrapping [ErrProof].
func (b InclusionBundle) Verify(publicKey string) (Checkpoint, error) {
	cp, err := OpenCheckpoint([]byte(b.Checkpoint), publicKey)
	if err != nil {
		return cp, err
	}
	if b.Event.Version != 1 && b.Event.Version != 2 {
		return cp, fmt.Errorf("%w: unknown event version %d", ErrProof, b.Event.Version)
	}
	return cp, VerifyInclusion(cp, b.Event.Seq, b.Event.LeafHash(), b.Hashes)
}

// ConsistencyBundle proves that the log at Newer extends the log at Older.
type ConsistencyBundle struct {
	Older  string     `json:"older"` // signed note
	Newer  string     `json:"newer"` // signed note
	Hashes []HashJSON `json:"hashes"`
}

// Verify checks both signatures and the consistency proof with only the
// log's public key, and returns the two checkpoints.
func (b ConsistencyBundle) Verify(publicKey string) (older, newer Checkpoint, err error) {
	if older, err = OpenCheckpoint([]byte(b.Older), publicKey); err != nil {
		return older, newer, err
	}
	if newer, err = OpenCheckpoint([]byte(b.Newer), publicKey); err != nil {
		return older, newer, err
	}
	return older, newer, VerifyConsistency(older, newer, b.Hashes)
}
