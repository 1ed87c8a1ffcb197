// Package devmailbox serves the development mailbox over HTTP, so a
// developer running the local server can read the magic links and reset
// links that [notify.Mailbox] stored.
//
// The handler hands out live single-use tokens to anyone who can reach it.
// Only the local server in cmd/gatehouse may mount it; the packages under
// functions/ must never import this package, and a test here fails if one
// does.
package devmailbox

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"html/template"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/gatehouse-dev/gatehouse/shared/notify"
)

// Path is where the local server mounts [MailboxHandler].
const Path = "/dev/mailbox"

// MailboxHandler serves GET requests with every message in mb: as an HTML
// page, newest first with clickable links, to a browser (an Accept header
// that prefers text/html); otherwise, or with ?format=json, as a JSON
// array, newest last. Any other method gets 405. It does not check the
// path: mount it at [Path].
func MailboxHandler(mb *notify.Mailbox) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", http.MethodGet)
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		msgs, err := mb.List()
		if err != nil {
			http.Error(w, "cannot read the mailbox: "+err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		if wantsHTML(r) {
			writeHTML(w, msgs)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(msgs)
	})
}

// wantsHTML reports whether r asks for the page: no ?format=json and an
// Accept header whose first media type is text/html, as browsers send.
func wantsHTML(r *http.Request) bool {
	if r.URL.Query().Get("format") == "json" {
		return false
	}
	first, _, _ := strings.Cut(r.Header.Get("Accept"), ",")
	mt, _, err := mime.ParseMediaType(strings.TrimSpace(first))
	return err == nil && mt == "text/html"
}

var page = template.Must(template.New("mailbox").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Development mailbox</title>
<style nonce="{{.Nonce}}">body{font:16px/1.5 system-ui,sans-serif;max-width:48rem;margin:auto;padding:1rem}
article{border:1px solid #d0d7de;border-radius:.5rem;padding:.75rem 1rem;margin:1rem 0}
pre{white-space:pre-wrap;word-break:break-all}.meta{color:#57606a}</style></head>
<body><h1>Development mailbox</h1>
<p>Every message the local server sent, newest first. <a href="?format=json">JSON</a></p>
{{range .Messages}}<article>
<h2>{{.Subject}}</h2>
<p class="meta">To {{.To}} · {{.Kind}} · <time datetime="{{.CreatedAt.Format "2006-01-02T15:04:05Z07:00"}}">{{.CreatedAt.Format "2006-01-02 15:04:05"}}</time></p>
{{range .Links}}<p><a href="{{.}}">{{.}}</a></p>{{end}}
<pre>{{.Text}}</pre>
</article>{{else}}<p>No messages yet.</p>{{end}}
</body></html>
`))

// writeHTML renders msgs newest first. Only http(s) links become anchors
// (html/template would neutralize any other scheme anyway); the page runs
// no script, under a CSP that allows only its own nonce'd style block.
func writeHTML(w http.ResponseWriter, msgs []notify.Message) {
	var b [16]byte
	_, _ = rand.Read(b[:])
	nonce := base64.RawURLEncoding.EncodeToString(b[:])
	msgs = slices.Clone(msgs)
	slices.Reverse(msgs)
	for i := range msgs {
		msgs[i].Links = slices.DeleteFunc(slices.Clone(msgs[i].Links), func(l string) bool {
			u, err := url.Parse(l)
			return err != nil || (u.Scheme != "http" && u.Scheme != "https")
		})
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'nonce-"+nonce+"'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	_ = page.Execute(w, struct {
		Nonce    string
		Messages []notify.Message
	}{nonce, msgs})
}
