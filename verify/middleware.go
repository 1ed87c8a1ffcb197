package verify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

type claimsKey struct{}

// FromContext returns the claims the middleware put in ctx.
func FromContext(ctx context.Context) (*Claims, bool) {
	c, ok := ctx.Value(claimsKey{}).(*Claims)
	return c, ok
}

// WithClaims returns ctx carrying c, as the middleware does (for tests of
// handlers behind it).
func WithClaims(ctx context.Context, c *Claims) context.Context {
	return context.WithValue(ctx, claimsKey{}, c)
}

// BearerToken returns the token of r's "Authorization: Bearer" header
// (RFC 6750), or ErrNoToken; a header that is not exactly one bearer
// token is ErrMalformed.
func BearerToken(r *http.Request) (string, error) {
	h := r.Header.Values("Authorization")
	if len(h) == 0 {
		return "", ErrNoToken
	}
	scheme, tok, ok := strings.Cut(h[0], " ")
	if len(h) != 1 || !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
		return "", fmt.Errorf("%w: the authorization header is not one bearer token", ErrMalformed)
	}
	return strings.TrimSpace(tok), nil
}

// Middleware admits requests with a bearer token that [Verifier.Verify]
// accepts and puts its [Claims] in the context ([FromContext]); others get
// 401 (503 when the keys cannot be fetched) from [WriteError].
func (v *Verifier) Middleware(next http.Handler) http.Handler {
	return v.middleware(v.Verify, next)
}

// IntrospectMiddleware is [Verifier.Middleware] with
// [Verifier.Introspect]: for routes that must refuse a revoked session or
// a removed member at once.
func (v *Verifier) IntrospectMiddleware(next http.Handler) http.Handler {
	return v.middleware(v.Introspect, next)
}

func (v *Verifier) middleware(check func(context.Context, string) (*Claims, error), next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, err := BearerToken(r)
		var c *Claims
		if err == nil {
			c, err = check(r.Context(), tok)
		}
		if err != nil {
			WriteError(w, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(WithClaims(r.Context(), c)))
	})
}

// RequirePermission returns middleware, to run after [Verifier.Middleware],
// that admits only organization-scoped tokens granting perm; the
// organization is then [Claims].Org.ID. Anything else gets 403.
func RequirePermission(perm string) func(http.Handler) http.Handler {
	return RequireOrgPermission(nil, perm)
}

// RequireOrgPermission is [RequirePermission] for routes that name the
// organization (orgFrom returns it, e.g. from a path wildcard): the token
// must be scoped to that very organization.
func RequireOrgPermission(orgFrom func(*http.Request) string, perm string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, _ := FromContext(r.Context())
			if err := CheckPermission(c, orgFrom, r, perm); err != nil {
				WriteError(w, err)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// CheckPermission returns nil if c is organization-scoped (to the
// organization orgFrom names in r, when orgFrom is not nil) and grants
// perm; else ErrNoToken (no claims), ErrNotOrgToken or ErrForbidden.
func CheckPermission(c *Claims, orgFrom func(*http.Request) string, r *http.Request, perm string) error {
	switch {
	case c == nil:
		return ErrNoToken
	case c.Org == nil:
		return ErrNotOrgToken
	case orgFrom != nil && orgFrom(r) != c.Org.ID:
		return fmt.Errorf("%w: the token is for another organization", ErrForbidden)
	case !c.Can(perm):
		return fmt.Errorf("%w: %q", ErrForbidden, perm)
	}
	return nil
}

// WriteError answers a request refused with err: the status of [Status],
// an RFC 6750 WWW-Authenticate challenge on 401 and 403, and a body in
// Gatehouse's error shape {"error":{"code","message"}}. Only the kind of
// failure is shown, never the detail.
func WriteError(w http.ResponseWriter, err error) {
	status := Status(err)
	code, msg := "invalid_token", "The access token is invalid or expired."
	switch {
	case errors.Is(err, ErrNoToken):
		code, msg = "unauthenticated", "Authentication required."
		w.Header().Set("WWW-Authenticate", `Bearer realm="gatehouse"`)
	case status == http.StatusServiceUnavailable:
		code, msg = "unavailable", "The service is temporarily unavailable."
	case status == http.StatusForbidden:
		code, msg = "forbidden", "You do not have permission to do this."
		w.Header().Set("WWW-Authenticate", `Bearer realm="gatehouse", error="insufficient_scope"`)
	default:
		w.Header().Set("WWW-Authenticate", `Bearer realm="gatehouse", error="invalid_token"`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": code, "message": msg}})
}
