package audit_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"

	"github.com/transparency-dev/merkle/compact"

	"github.com/gatehouse-dev/gatehouse/shared/audit"
	"github.com/gatehouse-dev/gatehouse/shared/auditproof"
	"github.com/gatehouse-dev/gatehouse/shared/store"
)

// memTree holds every perfect-subtree node of a tree, one slice a level:
// the rows audit_leaves and audit_nodes hold, in memory, so a benchmark
// can have a 10-million-event tree without writing 20 million rows (the
// store reads a proof's nodes with one indexed query; the benchmark
// measures the proof arithmetic and hashing, not PostgreSQL).
type memTree struct {
	levels [][][32]byte
	root   [32]byte
	size   uint64
}

// AuditNodes implements audit.Nodes, as the store does with one indexed
// read per node.
func (m *memTree) AuditNodes(_ context.Context, ids []store.AuditNodeID) ([][32]byte, error) {
	out := make([][32]byte, len(ids))
	for i, id := range ids {
		if int(id.Level) >= len(m.levels) || id.Index >= uint64(len(m.levels[id.Level])) {
			return nil, fmt.Errorf("node %v: %w", id, store.ErrNotFound)
		}
		out[i] = m.levels[id.Level][id.Index]
	}
	return out, nil
}

// leafOf is event i's leaf: a version 2 event like the ones sign-ins write.
func leafOf(i uint64) [32]byte {
	return auditproof.Event{Seq: int64(i + 1), Version: 2, Actor: "user-" + fmt.Sprint(i%1000), OrgID: "org-1",
		Action: "auth.login", Outcome: "success", Network: "198.51.100.0/24", Metadata: string(binary.BigEndian.AppendUint64(nil, i))}.LeafHash()
}

// proofSizes are the log sizes the proof benchmark runs at: a thousand
// and a hundred thousand events by default, which CI builds in a moment,
// and 10 million with GATEHOUSE_BENCH_AUDIT_EVENTS=10000000 (any size;
// building 10 million leaves takes about a minute and 1 GB). Proofs grow
// with log2 of the size, so the small sizes already show the scaling.
func proofSizes(b *testing.B) []uint64 {
	sizes := []uint64{1_000, 100_000}
	if v := os.Getenv("GATEHOUSE_BENCH_AUDIT_EVENTS"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil || n < 2 {
			b.Fatalf("GATEHOUSE_BENCH_AUDIT_EVENTS=%q: want a log size of at least 2", v)
		}
		sizes = append(sizes, n)
	}
	return sizes
}

var (
	treesMu sync.Mutex
	trees   = map[uint64]*memTree{}
)

// buildTree builds the tree of n events with a compact range, as the
// sequencer does, keeping every node it completes (64 bytes an event).
func buildTree(n uint64) *memTree {
	treesMu.Lock()
	defer treesMu.Unlock()
	if m := trees[n]; m != nil {
		return m
	}
	m := &memTree{size: n}
	f := &compact.RangeFactory{Hash: auditproof.HashChildren}
	r := f.NewEmptyRange(0)
	visit := func(id compact.NodeID, h []byte) {
		for int(id.Level) >= len(m.levels) {
			m.levels = append(m.levels, make([][32]byte, 0, n>>len(m.levels)+1))
		}
		m.levels[id.Level] = append(m.levels[id.Level], [32]byte(h))
	}
	for i := uint64(0); i < n; i++ {
		h := leafOf(i)
		if err := r.Append(h[:], visit); err != nil {
			panic(err)
		}
	}
	root, err := r.GetRootHash(nil)
	if err != nil {
		panic(err)
	}
	m.root = [32]byte(root)
	trees[n] = m
	return m
}

// BenchmarkInclusionProof generates (audit.InclusionHashes, the code the
// server runs over its node rows) and verifies (auditproof, what a
// customer runs) inclusion proofs of events spread over logs of growing
// size, and consistency proofs from older checkpoints. Both are
// logarithmic: a proof at 10 million events holds 24 hashes, at 100,000
// 17. The hashes/proof metric shows it; ns/op across the sizes shows that
// time follows it.
func BenchmarkInclusionProof(b *testing.B) {
	for _, n := range proofSizes(b) {
		b.Run(fmt.Sprintf("events=%d", n), func(b *testing.B) { benchProofs(b, buildTree(n)) })
	}
}

func benchProofs(b *testing.B, m *memTree) {
	ctx := context.Background()
	cp := auditproof.Checkpoint{Origin: "bench/audit", Size: m.size, Root: m.root}
	seqOf := func(i int) int64 { return int64(uint64(i)*7_919_993%m.size) + 1 }
	b.Run("generate", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			if _, err := audit.InclusionHashes(ctx, m, seqOf(i), int64(m.size)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("verify", func(b *testing.B) {
		const proofs = 256
		hashes := make([][]auditproof.HashJSON, proofs)
		for i := range proofs {
			h, err := audit.InclusionHashes(ctx, m, seqOf(i), int64(m.size))
			if err != nil {
				b.Fatal(err)
			}
			hashes[i] = h
		}
		for i := 0; b.Loop(); i++ {
			seq := seqOf(i % proofs)
			if err := auditproof.VerifyInclusion(cp, seq, leafOf(uint64(seq-1)), hashes[i%proofs]); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(hashes[0])), "hashes/proof")
	})
	b.Run("consistency", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			if _, err := audit.ConsistencyHashes(ctx, m, seqOf(i), int64(m.size)); err != nil {
				b.Fatal(err)
			}
		}
	})
}
