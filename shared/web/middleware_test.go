package web_test

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/shared/logging/logtest"
	"github.com/gatehouse-dev/gatehouse/shared/web"
)

var wantSecurityHeaders = map[string]string{
	"Strict-Transport-Security":  "max-age=63072000; includeSubDomains",
	"Content-Security-Policy":    "default-src 'none'; frame-ancestors 'none'",
	"X-Content-Type-Options":     "nosniff",
	"X-Frame-Options":            "DENY",
	"Referrer-Policy":            "no-referrer",
	"Cross-Origin-Opener-Policy": "same-origin",
}

// Controls: APP-4
func TestSecurityHeadersOnEveryResponse(t *testing.T) {
	logger, _ := logtest.New(t)
	mux := http.NewServeMux()
	mux.Handle("GET /ok", web.Handler(logger, func(w http.ResponseWriter, _ *http.Request) error {
		return web.WriteJSON(w, 200, map[string]bool{"ok": true})
	}))
	mux.Handle("POST /fail", web.Handler(logger, func(http.ResponseWriter, *http.Request) error {
		return errors.New("boom")
	}))
	mux.Handle("GET /panic", web.Handler(logger, func(http.ResponseWriter, *http.Request) error { panic("x") }))
	mux.Handle("POST /json", web.Handler(logger, func(_ http.ResponseWriter, r *http.Request) error {
		return web.DecodeJSON(r, &struct{}{})
	}))
	h := web.Chain(mux, web.SecurityHeaders)
	tests := []struct {
		name   string
		method string
		path   string
		status int
	}{
		{name: "success", method: "GET", path: "/ok", status: 200},
		{name: "internal error", method: "POST", path: "/fail", status: 500},
		{name: "panic", method: "GET", path: "/panic", status: 500},
		{name: "bad input", method: "POST", path: "/json", status: 415},
		{name: "mux not found", method: "GET", path: "/nope", status: 404},
		{name: "mux method not allowed", method: "DELETE", path: "/ok", status: 405},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(tt.method, tt.path, nil))
			if rec.Code != tt.status {
				t.Errorf("status = %d, want %d", rec.Code, tt.status)
			}
			for k, want := range wantSecurityHeaders {
				if got := rec.Header().Get(k); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
		})
	}
}

// Controls: APP-4
func TestErrorResponsesAreNotCached(t *testing.T) {
	rec, _ := serve(t, func(http.ResponseWriter, *http.Request) error {
		return web.Unauthorized("invalid_token", "Invalid token.")
	})
	if got := rec.Header().Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", got)
	}
}

func TestChainOrder(t *testing.T) {
	var order []string
	mw := func(name string) web.Middleware {
		return func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				order = append(order, name)
				next.ServeHTTP(w, r)
			})
		}
	}
	h := web.Chain(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { order = append(order, "h") }),
		mw("a"), mw("b"), mw("c"))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	if got := strings.Join(order, ","); got != "a,b,c,h" {
		t.Errorf("order = %s, want a,b,c,h", got)
	}
}

func TestRequestID(t *testing.T) {
	random := bytes.Repeat([]byte{0xab}, 16)
	generated := strings.Repeat("ab", 16)
	tests := []struct {
		name     string
		incoming string
		rand     io.Reader
		want     string
		status   int
	}{
		{name: "generated", rand: bytes.NewReader(random), want: generated, status: 200},
		{name: "sane incoming kept", incoming: "req-123_abc.def:9", rand: bytes.NewReader(random), want: "req-123_abc.def:9", status: 200},
		{name: "header injection replaced", incoming: "x\r\nSet-Cookie: a=b", rand: bytes.NewReader(random), want: generated, status: 200},
		{name: "html replaced", incoming: "<script>", rand: bytes.NewReader(random), want: generated, status: 200},
		{name: "too long replaced", incoming: strings.Repeat("a", 129), rand: bytes.NewReader(random), want: generated, status: 200},
		{name: "rand failure fails closed", rand: bytes.NewReader(nil), status: 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logger, logs := logtest.New(t)
			var seen string
			h := web.Chain(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				seen = web.RequestIDFromContext(r.Context())
				logger.InfoContext(r.Context(), "inside")
			}), web.RequestID(tt.rand))
			r := httptest.NewRequest("GET", "/", nil)
			if tt.incoming != "" {
				r.Header.Set("X-Request-Id", tt.incoming)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			if rec.Code != tt.status {
				t.Fatalf("status = %d, want %d", rec.Code, tt.status)
			}
			if tt.status != 200 {
				return
			}
			if seen != tt.want || rec.Header().Get("X-Request-Id") != tt.want {
				t.Errorf("context id %q, header %q, want %q", seen, rec.Header().Get("X-Request-Id"), tt.want)
			}
			if es := logs.Find("inside"); len(es) != 1 || es[0].String("request_id") != tt.want {
				t.Errorf("log entries = %v, want request_id %q", es, tt.want)
			}
		})
	}
}

func TestTraceMiddleware(t *testing.T) {
	logger, logs := logtest.New(t)
	h := web.Chain(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		logger.InfoContext(r.Context(), "inside")
	}), web.Trace)
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	h.ServeHTTP(httptest.NewRecorder(), r)
	es := logs.Find("inside")
	want := "projects/" + logtest.ProjectID + "/traces/4bf92f3577b34da6a3ce929d0e0e4736"
	if len(es) != 1 || es[0].String("logging.googleapis.com/trace") != want {
		t.Errorf("log entries = %v, want trace %s", es, want)
	}
}

// Controls: APP-3
func TestCORS(t *testing.T) {
	cors, err := web.CORS([]string{"https://app.example.com", "http://localhost:5173"})
	if err != nil {
		t.Fatal(err)
	}
	reached := false
	h := cors(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached = true }))
	tests := []struct {
		name        string
		method      string
		origin      string
		preflight   bool
		status      int
		allowOrigin string
		reached     bool
	}{
		{name: "allowed simple", method: "POST", origin: "https://app.example.com", status: 200, allowOrigin: "https://app.example.com", reached: true},
		{name: "allowed localhost with port", method: "GET", origin: "http://localhost:5173", status: 200, allowOrigin: "http://localhost:5173", reached: true},
		{name: "disallowed passes through without headers", method: "POST", origin: "https://evil.example", status: 200, reached: true},
		{name: "suffix attack", method: "GET", origin: "https://app.example.com.evil.example", status: 200, reached: true},
		{name: "scheme mismatch", method: "GET", origin: "http://app.example.com", status: 200, reached: true},
		{name: "port mismatch", method: "GET", origin: "http://localhost:5174", status: 200, reached: true},
		{name: "null origin", method: "GET", origin: "null", status: 200, reached: true},
		{name: "no origin", method: "GET", status: 200, reached: true},
		{name: "allowed preflight", method: "OPTIONS", origin: "https://app.example.com", preflight: true, status: 204, allowOrigin: "https://app.example.com"},
		{name: "disallowed preflight", method: "OPTIONS", origin: "https://evil.example", preflight: true, status: 403},
		{name: "plain options", method: "OPTIONS", origin: "https://app.example.com", status: 200, allowOrigin: "https://app.example.com", reached: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reached = false
			r := httptest.NewRequest(tt.method, "/", nil)
			if tt.origin != "" {
				r.Header.Set("Origin", tt.origin)
			}
			if tt.preflight {
				r.Header.Set("Access-Control-Request-Method", "POST")
				r.Header.Set("Access-Control-Request-Headers", "content-type, x-csrf-token")
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			hd := rec.Header()
			if rec.Code != tt.status || reached != tt.reached {
				t.Errorf("status %d reached %v, want %d %v", rec.Code, reached, tt.status, tt.reached)
			}
			if got := hd.Get("Access-Control-Allow-Origin"); got != tt.allowOrigin {
				t.Errorf("Allow-Origin = %q, want %q", got, tt.allowOrigin)
			}
			if cred := hd.Get("Access-Control-Allow-Credentials"); (cred == "true") != (tt.allowOrigin != "") {
				t.Errorf("Allow-Credentials = %q", cred)
			}
			if !strings.Contains(strings.Join(hd.Values("Vary"), ","), "Origin") {
				t.Errorf("Vary = %q, want Origin", hd.Values("Vary"))
			}
			if tt.preflight && tt.status == 204 && !strings.Contains(hd.Get("Access-Control-Allow-Headers"), "X-CSRF-Token") {
				t.Errorf("Allow-Headers = %q", hd.Get("Access-Control-Allow-Headers"))
			}
		})
	}
}

func TestCORSRejectsBadConfig(t *testing.T) {
	tests := []struct {
		name   string
		origin string
	}{
		{name: "wildcard", origin: "*"},
		{name: "path", origin: "https://app.example.com/"},
		{name: "no scheme", origin: "app.example.com"},
		{name: "other scheme", origin: "ftp://app.example.com"},
		{name: "userinfo", origin: "https://u@app.example.com"},
		{name: "query", origin: "https://app.example.com?"},
		{name: "empty", origin: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := web.CORS([]string{tt.origin}); err == nil {
				t.Errorf("CORS(%q) accepted a bad origin", tt.origin)
			}
		})
	}
}

// A response to a request with credentials is never cacheable, even when
// the handler says otherwise, writes no header or flushes early; one
// without credentials keeps what its handler chose.
//
// Controls: APP-8
func TestNoStoreCredentialed(t *testing.T) {
	handlers := map[string]http.HandlerFunc{
		"cacheable": func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Cache-Control", "public, max-age=300")
			w.WriteHeader(http.StatusOK)
		},
		"implicit": func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Cache-Control", "max-age=60")
			_, _ = w.Write([]byte("x"))
		},
		"flushed": func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Cache-Control", "private")
			if err := http.NewResponseController(w).Flush(); err != nil {
				t.Errorf("flush through the wrapper: %v", err)
			}
		},
	}
	tests := []struct {
		name    string
		header  http.Header
		handler string
		want    string
	}{
		{"bearer", http.Header{"Authorization": {"Bearer x"}}, "cacheable", "no-store"},
		{"cookie", http.Header{"Cookie": {"__Host-gatehouse-access=x"}}, "cacheable", "no-store"},
		{"any cookie", http.Header{"Cookie": {"app=1"}}, "implicit", "no-store"},
		{"flushed", http.Header{"Authorization": {"Basic eDp5"}}, "flushed", "no-store"},
		{"no credentials", nil, "cacheable", "public, max-age=300"},
		{"no credentials implicit", nil, "implicit", "max-age=60"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			for k, v := range tt.header {
				r.Header[k] = v
			}
			rec := httptest.NewRecorder()
			web.NoStoreCredentialed(handlers[tt.handler]).ServeHTTP(rec, r)
			if got := rec.Result().Header.Get("Cache-Control"); got != tt.want {
				t.Fatalf("Cache-Control %q, want %q", got, tt.want)
			}
			if tt.want == "no-store" && rec.Result().Header.Get("Pragma") != "no-cache" {
				t.Fatal("no Pragma: no-cache")
			}
		})
	}
}
