package argon2id

import "math/bits"

// compressGeneric sets out to G(x, y) of RFC 9106 section 3.5, XORed into
// out's old contents when xorInto is set (passes after the first, version
// 0x13). out may be x or y. [compress] picks it where no vector unit does
// the same work faster.
//
// It is exempt from the race detector (go:norace), as x/crypto's assembly
// is by nature: it runs only on blocks of one hash, owned by one goroutine,
// and instrumenting its 2^20 word accesses per hash slowed every test that
// signs in under -race by over an order of magnitude.
//
// The 1 KiB block is an 8x8 matrix of 16-byte registers; P permutes each
// row (16 consecutive words), then each column (word pairs 2j, 2j+1 of
// every row).
//
//go:norace
func compressGeneric(out, x, y *block, xorInto bool) {
	var q block
	for i := range q {
		q[i] = x[i] ^ y[i]
	}
	for i := 0; i < blockWords; i += 16 {
		permute((*[16]uint64)(q[i : i+16]))
	}
	for j := 0; j < 16; j += 2 {
		permuteColumn(&q, j)
	}
	if xorInto {
		for i := range out {
			out[i] ^= q[i] ^ x[i] ^ y[i]
		}
		return
	}
	for i := range out {
		out[i] = q[i] ^ x[i] ^ y[i]
	}
}

// permuteColumn is P on column j of q: words 2j and 2j+1 of every row.
//
//go:norace
func permuteColumn(q *block, j int) {
	c := (*[blockWords - 16 + 2]uint64)(q[j : j+blockWords-16+2])
	v0, v1, v2, v3, v4, v5, v6, v7 := c[0], c[1], c[16], c[17], c[32], c[33], c[48], c[49]
	v8, v9, v10, v11, v12, v13, v14, v15 := c[64], c[65], c[80], c[81], c[96], c[97], c[112], c[113]
	v0, v4, v8, v12 = half(v0, v4, v8, v12, 32, 24)
	v0, v4, v8, v12 = half(v0, v4, v8, v12, 16, 63)
	v1, v5, v9, v13 = half(v1, v5, v9, v13, 32, 24)
	v1, v5, v9, v13 = half(v1, v5, v9, v13, 16, 63)
	v2, v6, v10, v14 = half(v2, v6, v10, v14, 32, 24)
	v2, v6, v10, v14 = half(v2, v6, v10, v14, 16, 63)
	v3, v7, v11, v15 = half(v3, v7, v11, v15, 32, 24)
	v3, v7, v11, v15 = half(v3, v7, v11, v15, 16, 63)
	v0, v5, v10, v15 = half(v0, v5, v10, v15, 32, 24)
	v0, v5, v10, v15 = half(v0, v5, v10, v15, 16, 63)
	v1, v6, v11, v12 = half(v1, v6, v11, v12, 32, 24)
	v1, v6, v11, v12 = half(v1, v6, v11, v12, 16, 63)
	v2, v7, v8, v13 = half(v2, v7, v8, v13, 32, 24)
	v2, v7, v8, v13 = half(v2, v7, v8, v13, 16, 63)
	v3, v4, v9, v14 = half(v3, v4, v9, v14, 32, 24)
	v3, v4, v9, v14 = half(v3, v4, v9, v14, 16, 63)
	c[0], c[1], c[16], c[17], c[32], c[33], c[48], c[49] = v0, v1, v2, v3, v4, v5, v6, v7
	c[64], c[65], c[80], c[81], c[96], c[97], c[112], c[113] = v8, v9, v10, v11, v12, v13, v14, v15
}

// permute is P: the BLAKE2b round, with BlaMka's multiplications, on the
// 16 words of eight registers: GB on the columns of the 4x4 word matrix,
// then on its diagonals.
//
//go:norace
func permute(v *[16]uint64) {
	v0, v1, v2, v3, v4, v5, v6, v7 := v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]
	v8, v9, v10, v11, v12, v13, v14, v15 := v[8], v[9], v[10], v[11], v[12], v[13], v[14], v[15]
	v0, v4, v8, v12 = half(v0, v4, v8, v12, 32, 24)
	v0, v4, v8, v12 = half(v0, v4, v8, v12, 16, 63)
	v1, v5, v9, v13 = half(v1, v5, v9, v13, 32, 24)
	v1, v5, v9, v13 = half(v1, v5, v9, v13, 16, 63)
	v2, v6, v10, v14 = half(v2, v6, v10, v14, 32, 24)
	v2, v6, v10, v14 = half(v2, v6, v10, v14, 16, 63)
	v3, v7, v11, v15 = half(v3, v7, v11, v15, 32, 24)
	v3, v7, v11, v15 = half(v3, v7, v11, v15, 16, 63)
	v0, v5, v10, v15 = half(v0, v5, v10, v15, 32, 24)
	v0, v5, v10, v15 = half(v0, v5, v10, v15, 16, 63)
	v1, v6, v11, v12 = half(v1, v6, v11, v12, 32, 24)
	v1, v6, v11, v12 = half(v1, v6, v11, v12, 16, 63)
	v2, v7, v8, v13 = half(v2, v7, v8, v13, 32, 24)
	v2, v7, v8, v13 = half(v2, v7, v8, v13, 16, 63)
	v3, v4, v9, v14 = half(v3, v4, v9, v14, 32, 24)
	v3, v4, v9, v14 = half(v3, v4, v9, v14, 16, 63)
	v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7] = v0, v1, v2, v3, v4, v5, v6, v7
	v[8], v[9], v[10], v[11], v[12], v[13], v[14], v[15] = v8, v9, v10, v11, v12, v13, v14, v15
}

// half is one half of GB (RFC 9106 section 3.6), BLAKE2b's G with each
// addition a + b replaced by a + b + 2 * lo32(a) * lo32(b): GB is half
// with rotations 32 and 24, then half with 16 and 63. (Split in two so
// the compiler inlines it.)
func half(a, b, c, d uint64, rd, rb int) (uint64, uint64, uint64, uint64) {
	a += b + 2*uint64(uint32(a))*uint64(uint32(b))
	d = bits.RotateLeft64(d^a, -rd)
	c += d + 2*uint64(uint32(c))*uint64(uint32(d))
	b = bits.RotateLeft64(b^c, -rb)
	return a, b, c, d
}
