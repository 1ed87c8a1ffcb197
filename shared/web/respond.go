package web

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// WriteJSON writes v as JSON with the given status. If v cannot be encoded it
// writes nothing and returns the error, so a [HandlerFunc] can return it and
// get a clean 500.
func WriteJSON(w http.ResponseWriter, status int, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode json response: %w", err)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	if _, err := w.Write(append(body, '\n')); err != nil {
		return fmt.Errorf("write json response: %w", err)
	}
	return nil
}

// WriteTokenJSON is [WriteJSON] for responses that carry tokens or other
// secrets: it first marks the response uncacheable with [NoStore].
func WriteTokenJSON(w http.ResponseWriter, status int, v any) error {
	NoStore(w)
	return WriteJSON(w, status, v)
}

// NoStore forbids caching of the response (Cache-Control: no-store and, for
// HTTP/1.0 caches, Pragma: no-cache), as RFC 6749 section 5.1 requires for
// token responses. Call it before writing the header.
func NoStore(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
}
