package dnsproof_test

import (
	"context"
	"crypto/rand"
	"errors"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gatehouse-dev/gatehouse/shared/dnsproof"
	"github.com/gatehouse-dev/gatehouse/shared/dnsproof/dnstest"
)

// Controls: AUTH-13, APP-1
func TestNormalizeDomain(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"plain", "corp.example.com", "corp.example.com"},
		{"upper case", "Corp.Example.COM", "corp.example.com"},
		{"trailing dot", "corp.example.com.", "corp.example.com"},
		{"unicode", "bücher.de", "xn--bcher-kva.de"},
		{"A-label", "xn--bcher-kva.de", "xn--bcher-kva.de"},
		{"under a private suffix", "alice.github.io", "alice.github.io"},
		{"second-level suffix", "corp.co.uk", "corp.co.uk"},
		{"empty", "", ""},
		{"one label", "localhost", ""},
		{"top-level domain", "com", ""},
		{"public suffix", "co.uk", ""},
		{"private suffix itself", "github.io", ""},
		{"reserved TLD", "corp.example", ""},
		{"internal TLD", "corp.internal", ""},
		{"IP address", "192.0.2.1", ""},
		{"IPv6 literal", "[::1]", ""},
		{"underscore", "_dmarc.example.com", ""},
		{"space", "corp .example.com", ""},
		{"empty label", "corp..example.com", ""},
		{"leading hyphen", "-corp.example.com", ""},
		{"wildcard", "*.example.com", ""},
		{"e-mail", "user@example.com", ""},
		{"URL", "https://example.com", ""},
		{"path", "example.com/x", ""},
		{"long label", strings.Repeat("a", 64) + ".com", ""},
		{"too long", strings.Repeat("a.", 127) + "com", ""},
		{"NUL", "exa\x00mple.com", ""},
	} {
		got, err := dnsproof.NormalizeDomain(tc.in)
		if tc.want == "" {
			if !errors.Is(err, dnsproof.ErrInvalidDomain) {
				t.Errorf("%s: NormalizeDomain(%q) = %q, %v; want ErrInvalidDomain", tc.name, tc.in, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: NormalizeDomain(%q) = %q, %v; want %q", tc.name, tc.in, got, err, tc.want)
		}
	}
}

func TestEmailDomain(t *testing.T) {
	for in, want := range map[string]string{
		"a@Corp.Example.com":   "corp.example.com",
		"a@b@corp.example.com": "corp.example.com",
		"@corp.example.com":    "",
		"corp.example.com":     "",
		"a@":                   "",
	} {
		got, err := dnsproof.EmailDomain(in)
		if (want == "") != (err != nil) || got != want {
			t.Errorf("EmailDomain(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

// Controls: AUTH-13
func TestVerify(t *testing.T) {
	srv := dnstest.New(t)
	r, err := dnsproof.NewResolver(srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	token, err := dnsproof.NewToken(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := dnsproof.NewToken(rand.Reader)
	ch := dnsproof.ChallengeFor("corp.example.com", token)
	if ch.Name != "_gatehouse-challenge.corp.example.com" || !strings.HasPrefix(ch.Value, "gatehouse-domain-verification=") {
		t.Fatalf("challenge %+v", ch)
	}
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		setup func()
		want  error
	}{
		{"no record", func() {}, dnsproof.ErrNotProven},
		{"the record", func() { srv.SetTXT(ch.Name, ch.Value) }, nil},
		{"among other values", func() { srv.SetTXT(ch.Name, "v=spf1 -all", ch.Value+" ", "x") }, nil},
		{"upper-case name", func() { srv.SetTXT(strings.ToUpper(ch.Name), ch.Value) }, nil},
		{"another organization's value", func() { srv.SetTXT(ch.Name, dnsproof.ChallengeFor("corp.example.com", other).Value) },
			dnsproof.ErrNotProven},
		{"the bare token", func() { srv.SetTXT(ch.Name, token) }, dnsproof.ErrNotProven},
		{"token with a suffix", func() { srv.SetTXT(ch.Name, ch.Value+"x") }, dnsproof.ErrNotProven},
		{"record removed", func() { srv.Remove(ch.Name) }, dnsproof.ErrNotProven},
		{"long value in chunks", func() { srv.SetTXT(ch.Name, strings.Repeat("x", 600), ch.Value) }, nil},
		{"answer too big for UDP", func() {
			srv.SetTXT(ch.Name, append(slices.Repeat([]string{strings.Repeat("y", 200)}, 20), ch.Value)...)
		}, nil},
		{"server failure", func() { srv.Fail(true) }, dnsproof.ErrLookup},
	} {
		tc.setup()
		err := r.Verify(ctx, "corp.example.com", token)
		if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
			t.Errorf("%s: Verify = %v, want %v", tc.name, err, tc.want)
		}
	}
	if srv.Queries() == 0 {
		t.Fatal("the resolver never asked the test server")
	}
}

func TestResolverAddr(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1:5353": "127.0.0.1:5353", "10.0.0.2": "10.0.0.2:53", "[::1]:53": "[::1]:53", "::1": "[::1]:53",
		"dns.example.com:53": "", "127.0.0.1:": "", "": "", "8.8.8.8:53:1": "",
	} {
		got, err := dnsproof.ResolverAddr(in)
		if (want == "") != (err != nil) || got != want {
			t.Errorf("ResolverAddr(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

// Controls: AUTH-13, APP-6
func FuzzNormalizeDomain(f *testing.F) {
	for _, s := range []string{"corp.example.com", "Corp.Example.COM.", "bücher.de", "xn--bcher-kva.de", "co.uk",
		"a..b", "-a.com", "*.example.com", "192.0.2.1", "ß.de", "\u200d.com", "xn--.com", "a.xn--p1ai", "é.ü."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := dnsproof.NormalizeDomain(s)
		if err != nil {
			if !errors.Is(err, dnsproof.ErrInvalidDomain) {
				t.Fatalf("NormalizeDomain(%q): error %v does not wrap ErrInvalidDomain", s, err)
			}
			return
		}
		if len(got) > 253 || !utf8.ValidString(got) || strings.ToLower(got) != got || strings.Count(got, ".") < 1 {
			t.Fatalf("NormalizeDomain(%q) = %q", s, got)
		}
		again, err := dnsproof.NormalizeDomain(got)
		if err != nil || again != got {
			t.Fatalf("NormalizeDomain is not idempotent: %q -> %q -> %q, %v", s, got, again, err)
		}
	})
}

// Controls: AUTH-13, APP-6
func FuzzParseValue(f *testing.F) {
	tok, _ := dnsproof.NewToken(rand.Reader)
	v := dnsproof.ChallengeFor("x.com", tok).Value
	for _, s := range []string{v, " " + v + " ", v + "=", v[:len(v)-1], "gatehouse-domain-verification=", "v=spf1 -all", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := dnsproof.ParseValue(s)
		if !ok {
			return
		}
		if len(got) != 43 || dnsproof.ChallengeFor("x.com", got).Value != strings.TrimSpace(s) {
			t.Fatalf("ParseValue(%q) = %q", s, got)
		}
	})
}
