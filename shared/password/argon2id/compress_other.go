//go:build !amd64 || purego

package argon2id

// compress sets out to G(x, y) of RFC 9106 section 3.5, XORed into out's
// old contents when xorInto is set. out may be x or y.
func compress(out, x, y *block, xorInto bool) { compressGeneric(out, x, y, xorInto) }
