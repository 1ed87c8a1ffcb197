package returnurl

import (
	"errors"
	"net/url"
	"strings"
	"testing"
)

func testPolicy(t testing.TB) *Policy {
	t.Helper()
	p, err := New("https://app.example.com", []string{"https://admin.example.com", "http://localhost:3000"})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Controls: OAUTH-3
func TestCheckAccepts(t *testing.T) {
	p := testPolicy(t)
	for _, tc := range []struct {
		name, in, want string
	}{
		{"path", "/settings/integrations", "https://app.example.com/settings/integrations"},
		{"path with query and fragment", "/s?tab=a&x=%2F#top", "https://app.example.com/s?tab=a&x=%2F#top"},
		{"root", "/", "https://app.example.com/"},
		{"app origin absolute", "https://app.example.com/x", "https://app.example.com/x"},
		{"allowed origin", "https://admin.example.com/a/b?c=d", "https://admin.example.com/a/b?c=d"},
		{"upper-case scheme and host", "HTTPS://ADMIN.example.com/A", "https://admin.example.com/A"},
		{"allowed http origin with port", "http://localhost:3000/cb", "http://localhost:3000/cb"},
		{"origin without path", "https://admin.example.com", "https://admin.example.com/"},
		{"encoded space in path", "/a%20b", "https://app.example.com/a%20b"},
		{"dots inside a segment", "/a..b/.c", "https://app.example.com/a..b/.c"},
		{"query with slashes", "/a?next=//x/../y", "https://app.example.com/a?next=//x/../y"},
	} {
		got, err := p.Check(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("%s: Check(%q) = %q, %v; want %q", tc.name, tc.in, got, err, tc.want)
		}
	}
}

// Controls: OAUTH-3
func TestCheckRejects(t *testing.T) {
	p := testPolicy(t)
	for _, tc := range []struct{ name, in string }{
		{"empty", ""},
		{"too long", "/" + strings.Repeat("a", MaxLen)},
		{"scheme-relative", "//evil.com/x"},
		{"triple slash", "///evil.com"},
		{"backslash relative", "/\\evil.com"},
		{"backslash in scheme", "https:\\\\evil.com"},
		{"backslash in path", "/a\\b"},
		{"encoded backslash", "/%5Cevil.com"},
		{"double-encoded backslash", "/%255Cevil.com"},
		{"encoded scheme-relative", "/%2Fevil.com"},
		{"double-encoded scheme-relative", "/%252Fevil.com"},
		{"tab", "/\t/evil.com"},
		{"newline", "/a\nb"},
		{"encoded CRLF", "/a%0d%0aSet-Cookie:x"},
		{"double-encoded NUL", "/a%2500"},
		{"DEL", "/a\x7f"},
		{"space", "/a b"},
		{"non-ASCII", "/ä"},
		{"dot-dot", "/a/../b"},
		{"dot", "/a/./b"},
		{"trailing dot-dot", "/a/.."},
		{"encoded dot-dot", "/a/%2e%2e/b"},
		{"double-encoded dot-dot", "/a/%252e%252e/b"},
		{"encoded slash dot-dot", "/a%2F..%2Fb"},
		{"absolute dot-dot", "https://app.example.com/../x"},
		{"absolute encoded dot-dot", "https://app.example.com/%2E%2E/x"},
		{"userinfo", "https://app.example.com@evil.com/"},
		{"userinfo on allowed host", "https://user:pw@app.example.com/"},
		{"empty userinfo", "https://@app.example.com/"},
		{"other origin", "https://evil.com/"},
		{"allowed host other scheme", "http://app.example.com/"},
		{"allowed host other port", "https://app.example.com:8443/"},
		{"suffix trick", "https://app.example.com.evil.com/"},
		{"fragment trick", "https://evil.com#@app.example.com"},
		{"javascript", "javascript:alert(1)"},
		{"data", "data:text/html,<script>alert(1)</script>"},
		{"opaque https", "https:app.example.com/x"},
		{"relative without slash", "settings"},
		{"dot relative", "./x"},
		{"ftp", "ftp://app.example.com/"},
		{"bad escape", "/a%zz"},
		{"encoded host", "https://%61pp.example.com/"},
	} {
		if got, err := p.Check(tc.in); !errors.Is(err, ErrRejected) {
			t.Errorf("%s: Check(%q) = %q, %v; want ErrRejected", tc.name, tc.in, got, err)
		}
	}
}

func TestNewRejectsBadOrigins(t *testing.T) {
	for _, tc := range []struct {
		name    string
		app     string
		allowed []string
	}{
		{"app with path", "https://app.example.com/x", nil},
		{"app ftp", "ftp://app.example.com", nil},
		{"allowed with userinfo", "https://app.example.com", []string{"https://u@x.example.com"}},
		{"allowed empty", "https://app.example.com", []string{""}},
	} {
		if _, err := New(tc.app, tc.allowed); err == nil {
			t.Errorf("%s: New accepted it", tc.name)
		}
	}
}

// FuzzCheck holds Check to its contract on any input: whatever it accepts
// is an http(s) URL on an allowed origin, without userinfo, control
// characters, backslashes or dot segments however often it is decoded, and
// checking the result again gives the result.
//
// Controls: OAUTH-3
func FuzzCheck(f *testing.F) {
	for _, s := range []string{"/", "/a?b=c#d", "//evil.com", "/%2e%2e/", "https://app.example.com/x",
		"https://app.example.com@evil.com", "/\\x", "https://admin.example.com/%252e%252e", "http://localhost:3000"} {
		f.Add(s)
	}
	p := testPolicy(f)
	f.Fuzz(func(t *testing.T, in string) {
		out, err := p.Check(in)
		if err != nil {
			if !errors.Is(err, ErrRejected) || out != "" {
				t.Fatalf("Check(%q) = %q, %v", in, out, err)
			}
			return
		}
		u, perr := url.Parse(out)
		if perr != nil || u.User != nil || !p.allowed[u.Scheme+"://"+u.Host] {
			t.Fatalf("Check(%q) accepted %q: origin not allowed or userinfo", in, out)
		}
		if err := checkForms(out); err != nil {
			t.Fatalf("Check(%q) accepted %q: %v", in, out, err)
		}
		if again, err := p.Check(out); err != nil || again != out {
			t.Fatalf("Check(%q) = %q, but Check of that = %q, %v", in, out, again, err)
		}
	})
}
