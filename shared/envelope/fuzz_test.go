package envelope_test

import (
	"errors"
	"testing"

	"github.com/gatehouse-dev/gatehouse/shared/envelope"
)

// FuzzOpen feeds arbitrary bytes to Open on a keyring with a real key: it
// never panics and never succeeds, and every failure is permanent.
//
// Controls: APP-6, CRED-5
func FuzzOpen(f *testing.F) {
	kr := newFileKeyring(f)
	ct, err := kr.Seal(ctx, envelope.PurposeCredential, binding, secret)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(ct)
	f.Add(ct[:len(ct)-1])
	f.Add([]byte{1, 3, 'd', 'k', '_'})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, in []byte) {
		pt, err := kr.Open(ctx, envelope.PurposeCredential, binding, in)
		if string(in) == string(ct) {
			if err != nil || string(pt) != string(secret) {
				t.Fatalf("genuine ciphertext: %q, %v", pt, err)
			}
			return
		}
		if err == nil {
			t.Fatalf("Open accepted %x", in)
		}
		if !errors.Is(err, envelope.ErrPermanent) {
			t.Fatalf("Open(%x) error %v is not permanent", in, err)
		}
	})
}
