package auditproof_test

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/gatehouse-dev/gatehouse/shared/auditproof"
)

// twoEventLog signs the checkpoint of a log of two events and returns the
// public key, the inclusion bundle of the second event (valid) and both
// events' leaf hashes.
func twoEventLog(t testing.TB) (string, auditproof.InclusionBundle, [][32]byte) {
	skey, vkey, err := note.GenerateKey(rand.Reader, "example.com/audit")
	if err != nil {
		t.Fatal(err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 5, 4, 0, 0, 0, time.UTC)
	first := auditproof.Event{Seq: 1, Version: 2, Time: at, Actor: "u_1", Action: "auth.login", Outcome: "success"}
	second := auditproof.Event{Seq: 2, Version: 2, Time: at, Actor: "u_2", OrgID: "org-1", Action: "org.member.add",
		Target: "user:u_3", Outcome: "success", Metadata: `{"role":"viewer"}`}
	l1, l2 := first.LeafHash(), second.LeafHash()
	root := [32]byte(auditproof.HashChildren(l1[:], l2[:]))
	signed, err := note.Sign(&note.Note{Text: auditproof.CheckpointText("example.com/audit", 2, root)}, signer)
	if err != nil {
		t.Fatal(err)
	}
	return vkey, auditproof.InclusionBundle{Checkpoint: string(signed), Event: second, Hashes: []auditproof.HashJSON{l1}},
		[][32]byte{l1, l2}
}

// Proof bundles come from a server the verifier does not trust: any bytes
// give an error or a verified proof, never a panic, and the only bundles
// that verify are of the log's own events against its own checkpoint.
//
// Controls: AUDIT-5, APP-6
func FuzzVerifyBundle(f *testing.F) {
	pub, valid, leaves := twoEventLog(f)
	if _, err := valid.Verify(pub); err != nil {
		f.Fatalf("the valid bundle does not verify: %v", err)
	}
	seed, _ := json.Marshal(valid)
	f.Add(seed)
	f.Add(bytes.Replace(seed, []byte("viewer"), []byte("owner"), 1))
	f.Add(bytes.Replace(seed, []byte(`"seq":2`), []byte(`"seq":1`), 1))
	f.Add([]byte(`{"older":"x\n1\nAAAA\n","newer":"","hashes":["AAAA"]}`))
	f.Add([]byte(`{"event":{"seq":-1},"hashes":[]}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var b auditproof.InclusionBundle
		if json.Unmarshal(data, &b) == nil {
			if cp, err := b.Verify(pub); err == nil {
				if !slices.Contains(leaves, b.Event.LeafHash()) || cp.Size != 2 || !strings.HasPrefix(b.Checkpoint, "example.com/audit\n2\n") {
					t.Fatalf("a bundle that is not the log's verified: %+v", b)
				}
			}
		}
		var c auditproof.ConsistencyBundle
		if json.Unmarshal(data, &c) == nil {
			c.Verify(pub) // no panic; a log of one checkpoint proves nothing to check
		}
	})
}
