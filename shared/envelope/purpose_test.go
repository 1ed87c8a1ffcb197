package envelope

import (
	"bytes"
	"encoding/hex"
	"testing"
)

func unhex(tb testing.TB, s string) []byte {
	tb.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// The SHA-256 test cases of RFC 5869, appendix A, through the one HKDF
// function that derives every purpose key.
//
// Controls: CRED-2
func TestHKDFRFC5869(t *testing.T) {
	tests := []struct {
		name, ikm, salt, info, okm string
	}{
		{
			name: "A.1 basic",
			ikm:  "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b",
			salt: "000102030405060708090a0b0c",
			info: "f0f1f2f3f4f5f6f7f8f9",
			okm:  "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865",
		},
		{
			name: "A.2 longer inputs and outputs",
			ikm: "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f" +
				"202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f404142434445464748494a4b4c4d4e4f",
			salt: "606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f" +
				"808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9fa0a1a2a3a4a5a6a7a8a9aaabacadaeaf",
			info: "b0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3c4c5c6c7c8c9cacbcccdcecf" +
				"d0d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff",
			okm: "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c" +
				"59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71cc30c58179ec3e87c14c01d5c1f3434f1d87",
		},
		{
			name: "A.3 zero-length salt and info",
			ikm:  "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b",
			okm:  "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := unhex(t, tt.okm)
			got, err := hkdfSHA256(unhex(t, tt.ikm), unhex(t, tt.salt), string(unhex(t, tt.info)), len(want))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("OKM = %x, want %x", got, want)
			}
		})
	}
}

// Each purpose cipher is AES-256-GCM under HKDF-SHA256(data key, no salt,
// info = the purpose string), and no two purposes share a key.
//
// Controls: CRED-2
func TestPurposeKeysAreSeparate(t *testing.T) {
	dk, err := KeyFromBytes(bytes.Repeat([]byte{0x42}, KeySize))
	if err != nil {
		t.Fatal(err)
	}
	aeads, err := purposeAEADs(dk)
	if err != nil {
		t.Fatal(err)
	}
	nonce, msg := make([]byte, nonceSize), []byte("same message")
	seen := map[string]Purpose{}
	for i, p := range allPurposes() {
		pk, err := hkdfSHA256(dk.Bytes(), nil, string(p), KeySize)
		if err != nil {
			t.Fatal(err)
		}
		ref, err := newGCM(pk)
		if err != nil {
			t.Fatal(err)
		}
		got := aeads[i].Seal(nil, nonce, msg, nil)
		if want := ref.Seal(nil, nonce, msg, nil); !bytes.Equal(got, want) {
			t.Fatalf("%s: cipher is not keyed with HKDF(data key, %q)", p, p)
		}
		if q, dup := seen[string(got)]; dup {
			t.Fatalf("%s and %s share a key", p, q)
		}
		seen[string(got)] = p
	}
}
