package rotate

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/store/postgres"
	"github.com/gatehouse-dev/gatehouse/shared/store/postgres/pgtest"
)

// BenchmarkReencrypt compares the reencrypt task (list a batch, open and
// seal each value through the keyring, swap the batch in one transaction,
// then check headers and destroy the old key) with the least any
// re-encryption must do per record: one raw AES-256-GCM open, one seal and
// one UPDATE on the same PostgreSQL database. It reports both throughputs
// and their ratio (target: at least 0.5).
func BenchmarkReencrypt(b *testing.B) {
	const n = 2000
	f := newFixture(b, "postgres")
	f.seal(b, "r", n)
	cfg := testConfig()
	cfg.BatchSize = 500
	r := f.rotator(b, cfg)
	conn := f.Store.(*postgres.DB).Conn()
	ctx := context.Background()
	f.owner(b, `CREATE TABLE rt_base (id TEXT PRIMARY KEY, secret BYTEA)`)
	f.owner(b, `GRANT SELECT, INSERT, UPDATE ON rt_base TO `+pgtest.AppRole)
	aead := rawAEAD(b)
	ids, cts := make([]string, n), make([][]byte, n)
	for i := range n {
		ids[i] = fmt.Sprintf("b-%05d", i)
		cts[i] = sealRaw(aead, []byte("secret value "+ids[i]), []byte(ids[i]))
		if _, err := conn.Exec(ctx, `INSERT INTO rt_base (id, secret) VALUES ($1, $2)`, ids[i], cts[i]); err != nil {
			b.Fatal(err)
		}
	}
	var gatehouse, baseline time.Duration
	iters := 0
	for b.Loop() {
		if _, err := f.app.Rotate(ctx); err != nil {
			b.Fatal(err)
		}
		f.Clock.Advance(16 * time.Minute)
		start := time.Now()
		res, err := r.reencrypt(ctx, &run{req: Request{ID: "bench", Actor: "bench", Message: schedule()}, rep: &Report{}})
		if err != nil || res.counts["resealed"] != n {
			b.Fatalf("reencrypt: %v, %v", res.counts, err)
		}
		gatehouse += time.Since(start)

		start = time.Now()
		for i := range n {
			pt, err := aead.Open(nil, cts[i][:12], cts[i][12:], []byte(ids[i]))
			if err != nil {
				b.Fatal(err)
			}
			cts[i] = sealRaw(aead, pt, []byte(ids[i]))
			if _, err := conn.Exec(ctx, `UPDATE rt_base SET secret = $1 WHERE id = $2`, cts[i], ids[i]); err != nil {
				b.Fatal(err)
			}
		}
		baseline += time.Since(start)
		iters++
	}
	records := float64(n * iters)
	b.ReportMetric(records/gatehouse.Seconds(), "gatehouse_records/s")
	b.ReportMetric(records/baseline.Seconds(), "baseline_records/s")
	b.ReportMetric(baseline.Seconds()/gatehouse.Seconds(), "ratio")
}

func rawAEAD(b *testing.B) cipher.AEAD {
	key := make([]byte, 32)
	rand.Read(key)
	block, err := aes.NewCipher(key)
	if err != nil {
		b.Fatal(err)
	}
	aead, _ := cipher.NewGCM(block)
	return aead
}

func sealRaw(aead cipher.AEAD, pt, aad []byte) []byte {
	nonce := make([]byte, 12)
	rand.Read(nonce)
	return aead.Seal(nonce, nonce, pt, aad)
}
