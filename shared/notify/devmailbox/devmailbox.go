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
	"encoding/json"
	"net/http"

	"github.com/gatehouse-dev/gatehouse/shared/notify"
)

// Path is where the local server mounts [MailboxHandler].
const Path = "/dev/mailbox"

// MailboxHandler serves GET requests with every message in mb as a JSON
// array, newest last, and answers any other method with 405. It does not
// check the path: mount it at [Path].
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
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(msgs)
	})
}
