package web_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/shared/logging/logtest"
	"github.com/gatehouse-dev/gatehouse/shared/web"
)

// Requests no route matches get the same JSON error shape as every other
// rejection, and matched routes, path values and redirects are untouched.
//
// Controls: APP-4
func TestRoutesUnmatchedAreJSON(t *testing.T) {
	logger, _ := logtest.New(t)
	mux := http.NewServeMux()
	mux.Handle("GET /items/{id}", web.Handler(logger, func(w http.ResponseWriter, r *http.Request) error {
		return web.WriteJSON(w, http.StatusOK, map[string]string{"id": r.PathValue("id"), "route": r.Pattern})
	}))
	mux.Handle("POST /items/{id}", web.Handler(logger, func(w http.ResponseWriter, r *http.Request) error {
		return web.WriteJSON(w, http.StatusCreated, nil)
	}))
	mux.Handle("GET /dir/", http.NotFoundHandler())
	h := web.Routes(mux)

	tests := []struct {
		name, method, path string
		status             int
		code, allow        string
		location           string
	}{
		{name: "matched", method: "GET", path: "/items/7", status: 200},
		{name: "unknown path", method: "GET", path: "/nope", status: 404, code: "not_found"},
		{name: "wrong method", method: "DELETE", path: "/items/7", status: 405, code: "method_not_allowed", allow: "GET, HEAD, POST"},
		{name: "canonical redirect", method: "GET", path: "/dir", status: http.StatusTemporaryRedirect, location: "/dir/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(tt.method, tt.path, nil))
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.status, rec.Body)
			}
			if got := rec.Header().Get("Location"); got != tt.location {
				t.Errorf("Location %q, want %q", got, tt.location)
			}
			if tt.status == 200 {
				var got map[string]string
				if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || got["id"] != "7" || got["route"] != "GET /items/{id}" {
					t.Errorf("matched handler saw %v (%v)", got, err)
				}
				return
			}
			if tt.code == "" {
				return
			}
			if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type %q", ct)
			}
			var body struct {
				Error struct{ Code, Message string } `json:"error"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Error.Code != tt.code || body.Error.Message == "" {
				t.Errorf("body %s (%v), want code %s", rec.Body, err, tt.code)
			}
			if got := rec.Header().Get("Allow"); got != tt.allow {
				t.Errorf("Allow %q, want %q", got, tt.allow)
			}
			if got := rec.Header().Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control %q", got)
			}
		})
	}
}
