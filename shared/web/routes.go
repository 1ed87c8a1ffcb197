package web

import "net/http"

// CodeMethodNotAllowed is the code of a 405: the path exists but not for
// the request's method.
const CodeMethodNotAllowed = "method_not_allowed"

// Routes serves mux, answering requests that no route matches with the
// JSON error shape instead of ServeMux's plain text: 404 not_found, or 405
// method_not_allowed with the Allow header the mux computed. Redirects to a
// canonical path and matched routes are left to mux.
func Routes(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, pattern := mux.Handler(r)
		if pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		// Ask the mux's own fallback what it would answer, without sending it.
		probe := &headerProbe{header: http.Header{}}
		h.ServeHTTP(probe, r)
		switch probe.status {
		case http.StatusMethodNotAllowed:
			w.Header().Set("Allow", probe.header.Get("Allow"))
			writeErrorBody(w, &Error{Status: http.StatusMethodNotAllowed, Code: CodeMethodNotAllowed,
				Message: "Method not allowed; see the Allow header."})
		case http.StatusNotFound:
			writeErrorBody(w, NotFound())
		default:
			// A redirect or anything else the mux decides stays its own.
			mux.ServeHTTP(w, r)
		}
	})
}

// headerProbe records the status and headers a handler writes and drops
// the body.
type headerProbe struct {
	header http.Header
	status int
}

func (p *headerProbe) Header() http.Header { return p.header }

func (p *headerProbe) WriteHeader(code int) {
	if p.status == 0 {
		p.status = code
	}
}

func (p *headerProbe) Write(b []byte) (int, error) {
	p.WriteHeader(http.StatusOK)
	return len(b), nil
}
