package verify

import (
	"errors"
	"net/http"
)

// Errors returned by [Verifier.Verify], [Verifier.Introspect] and the
// middleware's checks, wrapped with detail. Compare with [errors.Is]. All
// but [ErrUnavailable] and [ErrForbidden] mean the token must be refused
// with 401; ErrForbidden is a valid token without the permission (403);
// ErrUnavailable means the keys or the introspection endpoint could not be
// reached, and the request must be denied (503), never waved through.
var (
	ErrNoToken     = errors.New("verify: no bearer token")
	ErrMalformed   = errors.New("verify: malformed token")
	ErrUnknownKey  = errors.New("verify: signed by an unknown key")
	ErrSignature   = errors.New("verify: bad signature")
	ErrExpired     = errors.New("verify: token expired")
	ErrNotYetValid = errors.New("verify: token not yet valid")
	ErrIssuer      = errors.New("verify: wrong issuer")
	ErrAudience    = errors.New("verify: wrong audience")
	ErrClaims      = errors.New("verify: missing or inconsistent claims")
	ErrInactive    = errors.New("verify: token not active (revoked, signed out or no longer a member)")
	ErrNotOrgToken = errors.New("verify: not an organization-scoped token")
	ErrForbidden   = errors.New("verify: permission missing")
	ErrUnavailable = errors.New("verify: keys or introspection unavailable")
)

// Status returns the HTTP status a request refused with err should get:
// 503 for [ErrUnavailable], 403 for [ErrForbidden] and [ErrNotOrgToken],
// 401 for everything else.
func Status(err error) int {
	switch {
	case errors.Is(err, ErrUnavailable):
		return http.StatusServiceUnavailable
	case errors.Is(err, ErrForbidden), errors.Is(err, ErrNotOrgToken):
		return http.StatusForbidden
	}
	return http.StatusUnauthorized
}
