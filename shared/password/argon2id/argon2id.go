// Package argon2id computes Argon2 (RFC 9106) into a caller-owned block
// array that is reused from one hash to the next.
//
// Why not golang.org/x/crypto/argon2: its IDKey allocates a fresh block
// array for every call (m KiB: 19 MiB at the OWASP minimum), which the Go
// runtime must zero and, under a tight GOMEMLIMIT, first fault back in from
// the operating system after the scavenger returned it; profiles of sign-in
// showed that work at about 40% of CPU (golang/go#36634 asks for the same
// reuse). Argon2 writes every block before it reads it, so a reused array
// needs no clearing. The package is built from BLAKE2b
// (golang.org/x/crypto/blake2b) and the RFC's compression function; its
// tests check the RFC 9106 test vectors for all three variants and compare
// its output with x/crypto/argon2 on random inputs (a differential test and
// a fuzz target).
//
// On amd64 the compression function runs in AVX2 (compress_amd64.s), four
// 64-bit words a register; elsewhere, and with the purego build tag, in
// portable Go. Both are checked against each other and the vectors.
package argon2id

import (
	"encoding/binary"
	"hash"

	"golang.org/x/crypto/blake2b"
)

// Version is the Argon2 version this package computes (0x13, the RFC's).
const Version = 0x13

// Type is an Argon2 variant.
type Type uint32

// The variants of RFC 9106 section 3.1. Passwords use [ID].
const (
	D  Type = 0
	I  Type = 1
	ID Type = 2
)

const (
	blockWords = 128 // 1 KiB blocks of 64-bit words
	syncPoints = 4   // slices per pass
)

type block [blockWords]uint64

// Params are one hash's inputs besides password and salt.
type Params struct {
	Type    Type
	Time    uint32 // passes, at least 1
	Memory  uint32 // KiB, at least 8 x Threads
	Threads uint8  // lanes, at least 1
	KeyLen  uint32 // tag length in bytes, at least 4
	Secret  []byte // optional K
	Data    []byte // optional associated data X
}

// Memory is a reusable block array. The zero value is ready to use; it
// grows to the largest Params.Memory it has computed and keeps that size.
// A Memory must not be used by two hashes at once.
type Memory struct {
	blocks []block
}

// Bytes returns how much memory m holds.
func (m *Memory) Bytes() int64 { return int64(len(m.blocks)) * blockWords * 8 }

// Key returns the Argon2 tag of password and salt under p, computed in m.
// It panics on parameters outside the RFC's bounds (Time or Threads 0,
// KeyLen under 4, Memory under 8 x Threads), as x/crypto/argon2 does for
// its own; callers validate parameters first.
func (m *Memory) Key(password, salt []byte, p Params) []byte {
	if p.Time < 1 || p.Threads < 1 || p.KeyLen < 4 || p.Memory < 8*uint32(p.Threads) {
		panic("argon2id: parameters out of range")
	}
	lanes := uint32(p.Threads)
	// m' = 4 p floor(m / 4p): whole segments in every lane.
	total := p.Memory / (syncPoints * lanes) * (syncPoints * lanes)
	if uint32(len(m.blocks)) < total {
		m.blocks = make([]block, total)
	}
	f := filler{b: m.blocks[:total], lanes: lanes, laneLen: total / lanes, passes: p.Time, typ: p.Type}
	f.segLen = f.laneLen / syncPoints
	h0 := initialHash(password, salt, p)
	f.firstBlocks(&h0)
	f.fill()
	return f.finalize(p.KeyLen)
}

// initialHash is H0 of RFC 9106 section 3.2 step 1.
func initialHash(password, salt []byte, p Params) [blake2b.Size]byte {
	h, _ := blake2b.New512(nil)
	var le [4]byte
	word := func(v uint32) {
		binary.LittleEndian.PutUint32(le[:], v)
		h.Write(le[:])
	}
	field := func(b []byte) {
		word(uint32(len(b)))
		h.Write(b)
	}
	word(uint32(p.Threads))
	word(p.KeyLen)
	word(p.Memory)
	word(p.Time)
	word(Version)
	word(uint32(p.Type))
	field(password)
	field(salt)
	field(p.Secret)
	field(p.Data)
	var out [blake2b.Size]byte
	h.Sum(out[:0])
	return out
}

// variableHash is H' of RFC 9106 section 3.3: a hash of any length from
// BLAKE2b, written to out.
func variableHash(out []byte, in ...[]byte) {
	var le [4]byte
	binary.LittleEndian.PutUint32(le[:], uint32(len(out)))
	if len(out) <= blake2b.Size {
		h := newBlake2b(len(out))
		h.Write(le[:])
		for _, b := range in {
			h.Write(b)
		}
		h.Sum(out[:0])
		return
	}
	// V1 = H^64(LE32(T) || X); V(i+1) = H^64(Vi); out = the first halves
	// of V1..Vr, then V(r+1) = H^(T-32r)(Vr) whole.
	h := newBlake2b(blake2b.Size)
	h.Write(le[:])
	for _, b := range in {
		h.Write(b)
	}
	var v [blake2b.Size]byte
	h.Sum(v[:0])
	n := copy(out, v[:32])
	for len(out)-n > blake2b.Size {
		h.Reset()
		h.Write(v[:])
		h.Sum(v[:0])
		n += copy(out[n:], v[:32])
	}
	last := newBlake2b(len(out) - n)
	last.Write(v[:])
	last.Sum(out[n:n])
}

func newBlake2b(size int) hash.Hash {
	h, err := blake2b.New(size, nil)
	if err != nil {
		panic(err) // size is 1..64 by construction
	}
	return h
}

// filler runs the passes of one hash over b.
type filler struct {
	b       []block
	lanes   uint32
	laneLen uint32 // q: columns per lane
	segLen  uint32
	passes  uint32
	typ     Type
}

// firstBlocks computes B[i][0] and B[i][1] of every lane from H0.
func (f *filler) firstBlocks(h0 *[blake2b.Size]byte) {
	var buf [1024]byte
	var suffix [8]byte
	for lane := range f.lanes {
		for col := range uint32(2) {
			binary.LittleEndian.PutUint32(suffix[:4], col)
			binary.LittleEndian.PutUint32(suffix[4:], lane)
			variableHash(buf[:], h0[:], suffix[:])
			b := &f.b[lane*f.laneLen+col]
			for i := range b {
				b[i] = binary.LittleEndian.Uint64(buf[8*i:])
			}
		}
	}
}

// fill computes every pass, slice by slice and lane by lane (lanes run one
// after another: a hash uses one core, which the caller's semaphore counts).
func (f *filler) fill() {
	for pass := range f.passes {
		for slice := range uint32(syncPoints) {
			for lane := range f.lanes {
				f.segment(pass, slice, lane)
			}
		}
	}
}

// segment fills one segment (RFC 9106 section 3.4).
func (f *filler) segment(pass, slice, lane uint32) {
	independent := f.typ == I || (f.typ == ID && pass == 0 && slice < syncPoints/2)
	var addr, input, zero block
	if independent {
		input[0], input[1], input[2] = uint64(pass), uint64(lane), uint64(slice)
		input[3], input[4], input[5] = uint64(len(f.b)), uint64(f.passes), uint64(f.typ)
	}
	nextAddresses := func() {
		input[6]++
		compress(&addr, &zero, &input, false)
		compress(&addr, &zero, &addr, false)
	}
	start := uint32(0)
	if pass == 0 && slice == 0 {
		start = 2 // B[i][0] and B[i][1] come from H0
		if independent {
			nextAddresses()
		}
	}
	laneStart := lane * f.laneLen
	for i := start; i < f.segLen; i++ {
		col := slice*f.segLen + i
		prev := col - 1
		if col == 0 {
			prev = f.laneLen - 1
		}
		var rnd uint64
		if independent {
			if i%blockWords == 0 {
				nextAddresses()
			}
			rnd = addr[i%blockWords]
		} else {
			rnd = f.b[laneStart+prev][0]
		}
		ref := f.reference(rnd, pass, slice, lane, i)
		compress(&f.b[laneStart+col], &f.b[laneStart+prev], &f.b[ref], pass > 0)
	}
}

// reference maps the pseudo-random value rnd of the block at index i of
// segment (pass, slice, lane) to the index in b of its reference block
// (RFC 9106 section 3.4.1).
func (f *filler) reference(rnd uint64, pass, slice, lane, i uint32) uint32 {
	j1, j2 := rnd&0xffffffff, uint32(rnd>>32)
	refLane := j2 % f.lanes
	if pass == 0 && slice == 0 {
		refLane = lane
	}
	sameLane := refLane == lane
	// The reference set W: blocks of earlier slices (all of them after the
	// first pass, wrapping around the lane), the current segment's blocks
	// before i when the lane is ours, and never the block just before ours
	// when the lane is another's and i is 0 (it may still be computing).
	var size, start uint32
	if pass == 0 {
		size = slice * f.segLen
	} else {
		size = (syncPoints - 1) * f.segLen
		start = (slice + 1) % syncPoints * f.segLen
	}
	if sameLane {
		size += i - 1
	} else if i == 0 {
		size--
	}
	x := j1 * j1 >> 32
	y := uint64(size) * x >> 32
	z := uint64(size) - 1 - y
	return refLane*f.laneLen + uint32((uint64(start)+z)%uint64(f.laneLen))
}

// finalize XORs the last column of every lane and hashes it to the tag.
func (f *filler) finalize(keyLen uint32) []byte {
	c := f.b[f.laneLen-1]
	for lane := uint32(1); lane < f.lanes; lane++ {
		last := &f.b[lane*f.laneLen+f.laneLen-1]
		for i := range c {
			c[i] ^= last[i]
		}
	}
	var buf [1024]byte
	for i, w := range c {
		binary.LittleEndian.PutUint64(buf[8*i:], w)
	}
	out := make([]byte, keyLen)
	variableHash(out, buf[:])
	return out
}
