package argon2id

import (
	"bytes"
	"encoding/hex"
	"math/rand/v2"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"
)

// RFC 9106 section 5: the three test vectors (m=32, t=3, p=4, 32-byte
// tag; password 32 x 0x01, salt 16 x 0x02, secret 8 x 0x03, associated
// data 12 x 0x04).
//
// Controls: AUTH-1
func TestRFC9106Vectors(t *testing.T) {
	for _, tc := range []struct {
		name string
		typ  Type
		tag  string
	}{
		{"argon2d", D, "512b391b6f1162975371d30919734294f868e3be3984f3c1a13a4db9fabe4acb"},
		{"argon2i", I, "c814d9d1dc7f37aa13f0d77f2494bda1c8de6b016dd388d29952a4c4672b6ce8"},
		{"argon2id", ID, "0d640df58d78766c08c037a34a8b53c9d01ef0452d75b65eb52520e96b01e659"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var m Memory
			got := m.Key(bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 16), Params{Type: tc.typ, Time: 3,
				Memory: 32, Threads: 4, KeyLen: 32, Secret: bytes.Repeat([]byte{3}, 8), Data: bytes.Repeat([]byte{4}, 12)})
			if hex.EncodeToString(got) != tc.tag {
				t.Fatalf("tag %x, want %s", got, tc.tag)
			}
		})
	}
}

// The reference implementation's Argon2id vector (phc-winner-argon2
// test.c: "password", "somesalt", t=2, m=2^16, p=1), and the same hash
// again in a Memory that has just computed another: reuse changes nothing.
//
// Controls: AUTH-1
func TestReferenceVectorAndReuse(t *testing.T) {
	const want = "09316115d5cf24ed5a15a31a3ba326e5cf32edc24702987c02b6566f61913cf7"
	var m Memory
	p := Params{Type: ID, Time: 2, Memory: 1 << 16, Threads: 1, KeyLen: 32}
	for i := range 2 {
		if got := hex.EncodeToString(m.Key([]byte("password"), []byte("somesalt"), p)); got != want {
			t.Fatalf("run %d: tag %s, want %s", i, got, want)
		}
		m.Key([]byte("other"), []byte("othersalt"), Params{Type: ID, Time: 1, Memory: 1 << 12, Threads: 2, KeyLen: 64})
	}
	if m.Bytes() != 1<<26 {
		t.Fatalf("memory holds %d bytes, want the largest hash's 64 MiB", m.Bytes())
	}
}

// Differential test: on random passwords, salts and parameters (lanes,
// odd memory sizes, tags shorter and longer than 64 bytes), one reused
// Memory gives what x/crypto/argon2 gives.
//
// Controls: AUTH-1
func TestMatchesXCrypto(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var m Memory
	n := 200
	if testing.Short() {
		n = 40
	}
	for range n {
		pw, salt := randBytes(rng, rng.IntN(80)), randBytes(rng, 8+rng.IntN(40))
		threads := uint8(1 + rng.IntN(4))
		p := Params{Type: ID, Time: uint32(1 + rng.IntN(3)), Memory: 8*uint32(threads) + uint32(rng.IntN(300)),
			Threads: threads, KeyLen: uint32(4 + rng.IntN(150))}
		compare(t, &m, pw, salt, p)
	}
}

func compare(t *testing.T, m *Memory, pw, salt []byte, p Params) {
	t.Helper()
	want := argon2.IDKey(pw, salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	if got := m.Key(pw, salt, p); !bytes.Equal(got, want) {
		t.Fatalf("pw %x salt %x %+v: got %x, x/crypto %x", pw, salt, p, got, want)
	}
}

func randBytes(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// FuzzMatchesXCrypto compares the two implementations on fuzzed inputs.
//
// Controls: AUTH-1
func FuzzMatchesXCrypto(f *testing.F) {
	f.Add([]byte("password"), []byte("somesalt"), uint8(2), uint16(64), uint8(1), uint16(32))
	f.Add([]byte{}, []byte("saltsalt"), uint8(1), uint16(8), uint8(1), uint16(4))
	f.Add([]byte("p"), []byte("0123456789abcdef"), uint8(3), uint16(257), uint8(4), uint16(129))
	var m Memory
	f.Fuzz(func(t *testing.T, pw, salt []byte, time uint8, memory uint16, threads uint8, keyLen uint16) {
		p := Params{Type: ID, Time: 1 + uint32(time%4), Threads: 1 + threads%8, KeyLen: 4 + uint32(keyLen%300)}
		p.Memory = 8*uint32(p.Threads) + uint32(memory%1024)
		compare(t, &m, pw, salt, p)
	})
}

// BenchmarkKey compares one OWASP-minimum hash (m=19456, t=2, p=1) in a
// reused Memory with x/crypto/argon2.IDKey, interleaved in the same run.
// ratio = IDKey time / Key time (above 1: faster than x/crypto).
func BenchmarkKey(b *testing.B) {
	pw, salt := []byte("correct horse battery staple"), []byte("0123456789abcdef")
	p := Params{Type: ID, Time: 2, Memory: 19456, Threads: 1, KeyLen: 32}
	var m Memory
	m.Key(pw, salt, p)
	var ours, theirs time.Duration
	for b.Loop() {
		s := time.Now()
		m.Key(pw, salt, p)
		ours += time.Since(s)
		s = time.Now()
		argon2.IDKey(pw, salt, p.Time, p.Memory, p.Threads, p.KeyLen)
		theirs += time.Since(s)
	}
	b.ReportMetric(float64(theirs)/float64(ours), "ratio")
	b.ReportMetric(ours.Seconds()*1e3/float64(b.N), "ms/hash")
	b.ReportMetric(theirs.Seconds()*1e3/float64(b.N), "x/crypto-ms/hash")
}
