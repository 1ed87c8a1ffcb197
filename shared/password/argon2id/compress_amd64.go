//go:build amd64 && !purego

package argon2id

import "golang.org/x/sys/cpu"

// useAVX2 selects [compressAVX2]. x/crypto's assembly uses SSE4.1 (two
// 64-bit lanes a register); AVX2 holds a whole BLAKE2b row of four words,
// so one register operation does the work of four scalar ones.
var useAVX2 = cpu.X86.HasAVX2

// compress sets out to G(x, y) of RFC 9106 section 3.5, XORed into out's
// old contents when xorInto is set. out may be x or y.
func compress(out, x, y *block, xorInto bool) {
	if useAVX2 {
		var q block
		compressAVX2(out, x, y, &q, xorInto)
		return
	}
	compressGeneric(out, x, y, xorInto)
}

// compressAVX2 is [compressGeneric] in AVX2, using q as scratch.
//
//go:noescape
func compressAVX2(out, x, y, q *block, xorInto bool)
