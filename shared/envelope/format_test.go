package envelope

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func v1(id string, rest int) []byte {
	return append(appendHeader(nil, id), make([]byte, rest)...)
}

// Controls: APP-6
func TestParseHeader(t *testing.T) {
	tests := []struct {
		name    string
		in      []byte
		wantID  string
		wantErr bool
	}{
		{name: "minimal", in: v1("a", nonceSize+tagSize), wantID: "a"},
		{name: "typical", in: v1("dk_0123456789abcdef0123456789abcdef", nonceSize+tagSize+40), wantID: "dk_0123456789abcdef0123456789abcdef"},
		{name: "longest id", in: v1(strings.Repeat("Z", maxIDLen), nonceSize+tagSize), wantID: strings.Repeat("Z", maxIDLen)},
		{name: "empty", in: nil, wantErr: true},
		{name: "one byte short", in: v1("a", nonceSize+tagSize-1), wantErr: true},
		{name: "unknown version", in: append([]byte{2}, v1("a", nonceSize+tagSize)[1:]...), wantErr: true},
		{name: "version zero", in: append([]byte{0}, v1("a", nonceSize+tagSize)[1:]...), wantErr: true},
		{name: "id length zero", in: append([]byte{formatV1, 0}, make([]byte, 40)...), wantErr: true},
		{name: "id too long", in: v1(strings.Repeat("Z", maxIDLen+1), nonceSize+tagSize), wantErr: true},
		{name: "id length past end", in: append([]byte{formatV1, 200}, make([]byte, 40)...), wantErr: true},
		{name: "id with slash", in: v1("a/b", nonceSize+tagSize), wantErr: true},
		{name: "id with NUL", in: v1("a\x00", nonceSize+tagSize), wantErr: true},
		{name: "id with non-ASCII", in: v1("ké", nonceSize+tagSize), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := parseHeader(tt.in)
			if tt.wantErr {
				if !errors.Is(err, ErrMalformed) || !errors.Is(err, ErrPermanent) {
					t.Fatalf("parseHeader error %v, want ErrMalformed", err)
				}
				return
			}
			if err != nil || string(h.id) != tt.wantID {
				t.Fatalf("parseHeader = %q, %v; want %q", h.id, err, tt.wantID)
			}
		})
	}
}

// Controls: CRED-1
func TestAssociatedDataIsInjective(t *testing.T) {
	hdr := appendHeader(nil, "dk_1")
	inputs := []struct {
		p Purpose
		b Binding
	}{
		{PurposeCredential, Binding{Org: "ab", Record: "c", Field: "d"}},
		{PurposeCredential, Binding{Org: "a", Record: "bc", Field: "d"}},
		{PurposeCredential, Binding{Org: "a", Record: "b", Field: "cd"}},
		{PurposeCredential, Binding{Org: "", Record: "abc", Field: "d"}},
		{PurposeCredential, Binding{Org: "abcd"}},
		{PurposeCredential, Binding{Field: "abcd"}},
		{PurposeCredential, Binding{Org: "a\x00\x00\x00\x01b"}},
		{PurposeCredential, Binding{Org: "a", Record: "b"}},
		{PurposeTOTP, Binding{Org: "ab", Record: "c", Field: "d"}},
		{PurposeCredential, Binding{}},
	}
	seen := map[string]int{}
	for i, in := range inputs {
		aad := appendAAD(nil, hdr, in.p, in.b)
		if len(aad) != aadSize(len(hdr), in.p, in.b) {
			t.Fatalf("input %d: aadSize = %d, appendAAD wrote %d", i, aadSize(len(hdr), in.p, in.b), len(aad))
		}
		if !bytes.HasPrefix(aad, hdr) {
			t.Fatalf("input %d: associated data does not start with the header", i)
		}
		if j, dup := seen[string(aad)]; dup {
			t.Fatalf("inputs %d and %d encode to the same associated data", j, i)
		}
		seen[string(aad)] = i
	}
}

// FuzzParseHeader checks that parseHeader never panics, and that whatever it
// accepts re-encodes to the same bytes and splits the input exactly.
//
// Controls: APP-6
func FuzzParseHeader(f *testing.F) {
	f.Add(v1("dk_0123456789abcdef0123456789abcdef", nonceSize+tagSize+10))
	f.Add(v1("a", nonceSize+tagSize))
	f.Add([]byte{formatV1, 0xff, 'a'})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, in []byte) {
		h, err := parseHeader(in)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v is not ErrMalformed", err)
			}
			return
		}
		if !bytes.Equal(appendHeader(nil, string(h.id)), h.raw) {
			t.Fatalf("header %x does not re-encode from id %q", h.raw, h.id)
		}
		if len(h.nonce) != nonceSize || len(h.box) < tagSize || len(h.raw)+len(h.nonce)+len(h.box) != len(in) {
			t.Fatalf("bad split of %d bytes: %d+%d+%d", len(in), len(h.raw), len(h.nonce), len(h.box))
		}
	})
}
