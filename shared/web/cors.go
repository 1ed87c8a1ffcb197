package web

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// ClientModeHeader is the request header a browser client sets to
// "browser" to get its tokens in cookies (shared/session).
const ClientModeHeader = "X-Gatehouse-Client"

// CORS response values. Allowed request headers are fixed: the JSON content
// type, bearer tokens, the CSRF header, the request id and the client mode.
const (
	corsMethods       = "GET, HEAD, POST, PUT, PATCH, DELETE"
	corsHeaders       = "Content-Type, Authorization, " + DefaultCSRFHeader + ", " + RequestIDHeader + ", " + ClientModeHeader
	corsExposeHeaders = "Retry-After, " + RequestIDHeader
	corsMaxAge        = "600"
)

// CORS returns middleware that lets browsers on the listed origins call the
// API with credentials. An origin is "scheme://host[:port]", http or https,
// with no path; "*" and anything else malformed is a configuration error.
//
// Every response varies on Origin. A request from an allowed origin gets
// Access-Control-Allow-Origin (that exact origin) and Allow-Credentials. A
// preflight (OPTIONS with Access-Control-Request-Method) from an allowed
// origin is answered 204 here; from any other origin 403 origin_not_allowed.
// Other requests from other origins pass through without CORS headers, so
// the browser withholds the response; state-changing ones must still be
// stopped by [CheckOrigin] and [CheckCSRF].
func CORS(allowedOrigins []string) (Middleware, error) {
	allowed := make(map[string]bool, len(allowedOrigins))
	for _, o := range allowedOrigins {
		norm, err := normalizeOrigin(o)
		if err != nil {
			return nil, err
		}
		allowed[norm] = true
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h := w.Header()
			h.Add("Vary", "Origin")
			origin := r.Header.Get("Origin")
			ok := origin != "" && allowed[strings.ToLower(origin)]
			if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
				preflight(w, origin, ok)
				return
			}
			if ok {
				h.Set("Access-Control-Allow-Origin", origin)
				h.Set("Access-Control-Allow-Credentials", "true")
				h.Set("Access-Control-Expose-Headers", corsExposeHeaders)
			}
			next.ServeHTTP(w, r)
		})
	}, nil
}

func preflight(w http.ResponseWriter, origin string, ok bool) {
	h := w.Header()
	h.Add("Vary", "Access-Control-Request-Method")
	h.Add("Vary", "Access-Control-Request-Headers")
	if !ok {
		writeErrorBody(w, forbidden(CodeOriginNotAllowed, "Origin not allowed."))
		return
	}
	h.Set("Access-Control-Allow-Origin", origin)
	h.Set("Access-Control-Allow-Credentials", "true")
	h.Set("Access-Control-Allow-Methods", corsMethods)
	h.Set("Access-Control-Allow-Headers", corsHeaders)
	h.Set("Access-Control-Max-Age", corsMaxAge)
	w.WriteHeader(http.StatusNoContent)
}

// normalizeOrigin checks that o is a serialized origin and lower-cases it.
func normalizeOrigin(o string) (string, error) {
	u, err := url.Parse(o)
	if err != nil {
		return "", fmt.Errorf("parse allowed origin %q: %w", o, err)
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil ||
		u.Path != "" || u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(o, "?") || strings.HasSuffix(o, "#") {
		return "", fmt.Errorf("allowed origin %q is not scheme://host[:port]", o)
	}
	return strings.ToLower(o), nil
}
