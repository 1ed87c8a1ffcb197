package sqlstore

import (
	"testing"

	"github.com/gatehouse-dev/gatehouse/shared/store"
)

// FuzzParseSessionChange: any payload parses without panicking, what
// names no session or user means every session (never nothing), and the
// payload of a change parses back to it.
//
// Controls: AUTH-6, APP-6
func FuzzParseSessionChange(f *testing.F) {
	for _, s := range []string{"s:sess_1", "u:u_1", "*", "", "s:", "u:", "x:y", "s"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		c := ParseSessionChange(p)
		if c.SessionID != "" && c.UserID != "" {
			t.Fatalf("%q names both a session and a user: %+v", p, c)
		}
		if c != (store.SessionChange{}) && payload(c) != p {
			t.Fatalf("%q parsed to %+v, whose payload is %q", p, c, payload(c))
		}
		for _, want := range []store.SessionChange{{SessionID: p}, {UserID: p}} {
			if p == "" {
				continue
			}
			if got := ParseSessionChange(payload(want)); got != want {
				t.Fatalf("payload of %+v parsed to %+v", want, got)
			}
		}
	})
}
