//go:build amd64 && !purego

package argon2id

import (
	"math/rand/v2"
	"testing"
)

// The AVX2 compression gives what the portable one gives, on random
// blocks, with and without XOR into the old output, and with out aliasing
// x or y as the filler calls it.
//
// Controls: AUTH-1
func TestCompressAVX2MatchesGeneric(t *testing.T) {
	if !useAVX2 {
		t.Skip("this CPU has no AVX2: the portable compression is the one in use")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	random := func() *block {
		var b block
		for i := range b {
			b[i] = rng.Uint64()
		}
		return &b
	}
	for i := range 200 {
		x, y, old := random(), random(), random()
		xorInto, alias := i%2 == 1, i%3
		want, got := *old, *old
		wx, wy, gx, gy := *x, *y, *x, *y
		wOut, gOut := &want, &got
		switch alias { // out is x, out is y, or out is a third block
		case 1:
			wx, gx = want, got
			wOut, gOut = &wx, &gx
		case 2:
			wy, gy = want, got
			wOut, gOut = &wy, &gy
		}
		compressGeneric(wOut, &wx, &wy, xorInto)
		var q block
		compressAVX2(gOut, &gx, &gy, &q, xorInto)
		if *wOut != *gOut {
			t.Fatalf("case %d (xorInto %v, alias %d): AVX2 output differs from the portable one", i, xorInto, alias)
		}
	}
}

// The RFC 9106 vectors hold for the portable compression too, which is
// what CPUs without AVX2 (and other architectures) run.
//
// Controls: AUTH-1
func TestRFC9106VectorsPortable(t *testing.T) {
	defer func(v bool) { useAVX2 = v }(useAVX2)
	useAVX2 = false
	TestRFC9106Vectors(t)
	TestReferenceVectorAndReuse(t)
}

func BenchmarkCompress(b *testing.B) {
	var x, y, out block
	for i := range x {
		x[i], y[i] = uint64(i)*0x9e3779b97f4a7c15, uint64(i)^0xdeadbeef
	}
	b.Run("generic", func(b *testing.B) {
		for b.Loop() {
			compressGeneric(&out, &x, &y, true)
		}
	})
	b.Run("avx2", func(b *testing.B) {
		if !useAVX2 {
			b.Skip("no AVX2")
		}
		var q block
		for b.Loop() {
			compressAVX2(&out, &x, &y, &q, true)
		}
	})
}
