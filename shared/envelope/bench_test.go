package envelope_test

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"io"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/envelope"
)

// rawGCM is the baseline: AES-256-GCM with a random nonce, no envelope.
func rawGCM(tb testing.TB) cipher.AEAD {
	key := make([]byte, 32)
	rand.Read(key)
	block, err := aes.NewCipher(key)
	if err != nil {
		tb.Fatal(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		tb.Fatal(err)
	}
	return aead
}

func rawSeal(aead cipher.AEAD, pt []byte) []byte {
	out := make([]byte, 12, 12+len(pt)+16)
	if _, err := io.ReadFull(rand.Reader, out); err != nil {
		panic(err)
	}
	return aead.Seal(out, out, pt, nil)
}

// compare runs envOp b.N times, timed as the benchmark, and rawOp as many
// times untimed, in alternating batches so that both see the same machine
// load; it reports raw's time per op and the ratio envOp/rawOp.
func compare(b *testing.B, envOp, rawOp func()) {
	const batch = 256
	var env, raw time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; {
		n := min(batch, b.N-done)
		t0 := time.Now()
		for range n {
			envOp()
		}
		env += time.Since(t0)
		b.StopTimer() // reads memory statistics: not part of either time
		t1 := time.Now()
		for range n {
			rawOp()
		}
		raw += time.Since(t1)
		done += n
		b.StartTimer()
	}
	b.ReportMetric(float64(raw.Nanoseconds())/float64(b.N), "raw-ns/op")
	b.ReportMetric(float64(env)/float64(raw), "x-raw-gcm")
}

// BenchmarkSeal1KiB seals a 1 KiB secret with a warm cache, against raw
// AES-256-GCM with a random nonce on the same data.
func BenchmarkSeal1KiB(b *testing.B) {
	kr := newFileKeyring(b)
	pt := make([]byte, 1024)
	seal(b, kr, envelope.PurposeCredential, binding, pt) // creates and caches the primary
	raw := rawGCM(b)
	b.SetBytes(int64(len(pt)))
	compare(b, func() {
		if _, err := kr.Seal(ctx, envelope.PurposeCredential, binding, pt); err != nil {
			b.Fatal(err)
		}
	}, func() { rawSeal(raw, pt) })
}

// BenchmarkOpen1KiB opens a 1 KiB secret with a warm cache, against raw
// AES-256-GCM on the same data.
func BenchmarkOpen1KiB(b *testing.B) {
	kr := newFileKeyring(b)
	pt := make([]byte, 1024)
	ct := seal(b, kr, envelope.PurposeCredential, binding, pt)
	raw := rawGCM(b)
	rawCT := rawSeal(raw, pt)
	b.SetBytes(int64(len(pt)))
	compare(b, func() {
		if _, err := kr.Open(ctx, envelope.PurposeCredential, binding, ct); err != nil {
			b.Fatal(err)
		}
	}, func() {
		if _, err := raw.Open(nil, rawCT[:12], rawCT[12:], nil); err != nil {
			b.Fatal(err)
		}
	})
}

// BenchmarkKMSCallsPer10kOpens opens 10,000 ciphertexts under 3 data keys on
// a cold instance, through the real KMS client and the fake KMS, and reports
// the KMS decrypt calls it took (3: one per data key).
func BenchmarkKMSCallsPer10kOpens(b *testing.B) {
	e := newEnv(b, envelope.Options{})
	const keys = 3
	cts := sealUnderKeys(b, e, keys)
	calls, runs := 0, 0
	for b.Loop() {
		kr := e.keyring(b, envelope.Options{})
		before := e.decrypts()
		for i := range 10_000 {
			if _, err := kr.Open(ctx, envelope.PurposeCredential, binding, cts[i%keys]); err != nil {
				b.Fatal(err)
			}
		}
		calls += e.decrypts() - before
		runs++
	}
	b.ReportMetric(float64(calls)/float64(runs), "kms-calls/10k-opens")
	b.ReportMetric(keys, "data-keys")
}
