package main

import (
	"crypto/rand"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
)

// `gatehouse audit prove` hands out inclusion and consistency proofs, and
// `gatehouse audit verify-proof` checks them with the published public key
// alone: the database is gone when they are checked. A changed event, a
// proof against another key and a changed checkpoint are refused.
//
// Controls: AUDIT-5
func TestAuditProveAndVerifyOffline(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("GATEHOUSE_DATA_DIR", dir)
	for range 3 {
		if out, err := run(t, "keys", "rotate"); err != nil {
			t.Fatalf("keys rotate: %v\n%s", err, out)
		}
	}
	key, err := run(t, "audit", "public-key")
	if err != nil || !strings.Contains(key, "+") {
		t.Fatalf("audit public-key: %v\n%s", err, key)
	}
	keyFile := filepath.Join(t.TempDir(), "audit.pub")
	if err := os.WriteFile(keyFile, []byte(key), 0o600); err != nil {
		t.Fatal(err)
	}
	inclusion, err := run(t, "audit", "prove", "--seq", "2")
	if err != nil {
		t.Fatalf("audit prove --seq 2: %v\n%s", err, inclusion)
	}
	consistency, err := run(t, "audit", "prove", "--from", "1")
	if err != nil {
		t.Fatalf("audit prove --from 1: %v\n%s", err, consistency)
	}
	// Offline: no database at all from here on.
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	absent := filepath.Join(t.TempDir(), "absent")
	t.Setenv("GATEHOUSE_DATA_DIR", absent)
	proofs := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(proofs, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if out, err := run(t, "audit", "verify-proof", "--key", "@"+keyFile, write("inclusion.json", inclusion)); err != nil ||
		!strings.Contains(out, "ok: event 2 (keys.rotate") || !strings.Contains(out, "checkpoint 3") {
		t.Fatalf("verify-proof of the inclusion proof: %v\n%s", err, out)
	}
	if out, err := run(t, "audit", "verify-proof", "--key", strings.TrimSpace(key), write("consistency.json", consistency)); err != nil ||
		!strings.Contains(out, "ok: checkpoint 3 extends checkpoint 1") {
		t.Fatalf("verify-proof of the consistency proof: %v\n%s", err, out)
	}
	if _, err := os.Stat(absent); !os.IsNotExist(err) {
		t.Fatalf("verify-proof opened a database: %v", err)
	}

	var b map[string]any
	if err := json.Unmarshal([]byte(inclusion), &b); err != nil {
		t.Fatal(err)
	}
	b["event"].(map[string]any)["target"] = "forged"
	forged, _ := json.Marshal(b)
	// A key of the same name that is not the log's.
	_, otherKey, err := note.GenerateKey(rand.Reader, strings.SplitN(strings.TrimSpace(key), "+", 2)[0])
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal([]byte(consistency), &c); err != nil {
		t.Fatal(err)
	}
	c["newer"] = strings.Replace(c["newer"].(string), "\n3\n", "\n4\n", 1)
	rewritten, _ := json.Marshal(c)
	for _, tc := range []struct{ name, key, body string }{
		{"changed event", "@" + keyFile, string(forged)},
		{"another log's key", otherKey, inclusion},
		{"rewritten checkpoint", "@" + keyFile, string(rewritten)},
		{"not a proof", "@" + keyFile, `{"event": 1}`},
	} {
		out, err := run(t, "audit", "verify-proof", "--key", tc.key, write("bad.json", tc.body))
		if err == nil || strings.Contains(out, "ok:") {
			t.Errorf("%s: verify-proof accepted it: %v\n%s", tc.name, err, out)
		}
	}
}
