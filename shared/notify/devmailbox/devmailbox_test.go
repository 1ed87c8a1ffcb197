package devmailbox

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/shared/notify"
)

func TestMailboxHandler(t *testing.T) {
	mb, err := notify.NewMailbox(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	h := MailboxHandler(mb)
	for _, kind := range []string{notify.KindInvitation, notify.KindMagicLink} {
		m := notify.Message{To: "bob@example.com", Kind: kind, Subject: "s", Links: []string{"http://localhost:8080/x?token=t"}}
		if err := mb.Notify(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name      string
		method    string
		wantCode  int
		wantKinds []string
	}{
		{"get lists newest last", http.MethodGet, http.StatusOK, []string{notify.KindInvitation, notify.KindMagicLink}},
		{"post", http.MethodPost, http.StatusMethodNotAllowed, nil},
		{"delete", http.MethodDelete, http.StatusMethodNotAllowed, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(tc.method, Path, nil))
			if rec.Code != tc.wantCode {
				t.Fatalf("status = %d, want %d", rec.Code, tc.wantCode)
			}
			if tc.wantCode != http.StatusOK {
				if rec.Header().Get("Allow") != http.MethodGet {
					t.Fatalf("Allow = %q", rec.Header().Get("Allow"))
				}
				return
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" || rec.Header().Get("Cache-Control") != "no-store" {
				t.Fatalf("Content-Type %q, Cache-Control %q", ct, rec.Header().Get("Cache-Control"))
			}
			var got []notify.Message
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatalf("body is not a message list: %v", err)
			}
			if len(got) != len(tc.wantKinds) || got[0].Kind != tc.wantKinds[0] || got[1].Kind != tc.wantKinds[1] {
				t.Fatalf("kinds = %v, want %v", got, tc.wantKinds)
			}
		})
	}
}

func TestMailboxHandlerEmptyIsArray(t *testing.T) {
	mb, err := notify.NewMailbox(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	MailboxHandler(mb).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, Path, nil))
	if body := strings.TrimSpace(rec.Body.String()); body != "[]" {
		t.Fatalf("body = %q, want []", body)
	}
}

const (
	module  = "github.com/gatehouse-dev/gatehouse"
	thisPkg = module + "/shared/notify/devmailbox"
)

// importers returns the packages matched by pattern whose transitive
// dependencies include target.
func importers(t *testing.T, pattern, target string) []string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not found; cannot inspect the import graph")
	}
	cmd := exec.Command(goBin, "list", "-e", "-f", `{{.ImportPath}} {{join .Deps " "}}`, pattern)
	cmd.Dir = "../../.."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list %s: %v", pattern, err)
	}
	var found []string
	for line := range strings.Lines(string(out)) {
		fields := strings.Fields(line)
		for _, dep := range fields[1:] {
			if dep == target {
				found = append(found, fields[0])
			}
		}
	}
	return found
}

// The mailbox hands out live sign-in and reset tokens, so a deployed
// function must never be able to serve it.
//
// Controls: CRED-4
func TestFunctionsNeverImportDevMailbox(t *testing.T) {
	// The check itself works: this package depends on notify.
	if got := importers(t, "./shared/notify/devmailbox", module+"/shared/notify"); len(got) != 1 {
		t.Fatalf("import check cannot see devmailbox -> notify: %v", got)
	}
	if got := importers(t, "./functions/...", thisPkg); len(got) != 0 {
		t.Fatalf("deployed function packages import %s: %v", thisPkg, got)
	}
}

// A browser gets the mailbox as a page, newest first, each link an anchor;
// ?format=json, or an Accept without text/html first, keeps the JSON.
func TestMailboxHTMLView(t *testing.T) {
	mb, err := notify.NewMailbox(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, subject := range []string{"first", "second"} {
		m := notify.Message{To: "bob@example.com", Kind: notify.KindMagicLink, Subject: subject,
			Links: []string{"http://localhost:8080/auth/ui/magic-link#token=" + subject}}
		if err := mb.Notify(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	h := MailboxHandler(mb)
	tests := []struct {
		name, target, accept string
		wantHTML             bool
	}{
		{"browser", Path, "text/html,application/xhtml+xml,*/*;q=0.8", true},
		{"browser asking for json", Path + "?format=json", "text/html,*/*", false},
		{"api client", Path, "application/json", false},
		{"no accept", Path, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, tc.target, nil)
			if tc.accept != "" {
				req.Header.Set("Accept", tc.accept)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			body := rec.Body.String()
			if !tc.wantHTML {
				var msgs []notify.Message
				if err := json.Unmarshal(rec.Body.Bytes(), &msgs); err != nil || len(msgs) != 2 || msgs[0].Subject != "first" {
					t.Fatalf("json: %v %+v", err, msgs)
				}
				return
			}
			if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
				t.Fatalf("Content-Type = %q", ct)
			}
			if csp := rec.Header().Get("Content-Security-Policy"); !strings.HasPrefix(csp, "default-src 'none'") {
				t.Fatalf("CSP = %q", csp)
			}
			second, first := strings.Index(body, "<h2>second</h2>"), strings.Index(body, "<h2>first</h2>")
			if second < 0 || first < 0 || second > first {
				t.Fatalf("not newest first:\n%s", body)
			}
			if !strings.Contains(body, `<a href="http://localhost:8080/auth/ui/magic-link#token=second">`) {
				t.Fatalf("link not clickable:\n%s", body)
			}
		})
	}
}
