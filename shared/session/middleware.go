package session

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/sessioncache"
	"github.com/gatehouse-dev/gatehouse/shared/store"
	"github.com/gatehouse-dev/gatehouse/shared/token"
	"github.com/gatehouse-dev/gatehouse/shared/web"
)

// Authenticate admits a request carrying a valid access token, as
// "Authorization: Bearer <token>" or, from a browser, the access cookie;
// a cookie-authenticated state-changing request must also come from an
// allowed Origin and carry the CSRF header matching the CSRF cookie. The
// token's signature and claims are checked, then its session row: it must
// exist, belong to the token's subject and be active (not revoked, not idle
// or absolutely expired), so a revoked session is refused at once. The
// [Principal] goes into the request context. Otherwise the response is a
// 401 (403 for Origin/CSRF failures, 503 when keys or the database cannot
// be reached: nothing is waved through).
func (m *Manager) Authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := m.authenticate(r)
		if err != nil {
			web.WriteError(w, r, m.logger, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(WithPrincipal(r.Context(), p)))
	})
}

// authenticate finds and checks the request's credentials.
func (m *Manager) authenticate(r *http.Request) (Principal, error) {
	tok, fromCookie, err := credentials(r)
	if err != nil {
		return Principal{}, err
	}
	if fromCookie {
		if err := m.checkBrowser(r); err != nil {
			return Principal{}, err
		}
	}
	return m.Check(r.Context(), tok)
}

// checkBrowser applies the Origin and CSRF checks of cookie mode.
func (m *Manager) checkBrowser(r *http.Request) error {
	if err := web.CheckOrigin(r, m.cfg.AllowedOrigins); err != nil {
		return err
	}
	return web.CheckCSRF(r, CSRFCookie, CSRFHeader)
}

// credentials returns the access token of r and whether it came from the
// cookie. An Authorization header that is not a bearer token is refused,
// not ignored.
func credentials(r *http.Request) (string, bool, error) {
	if h := r.Header.Values("Authorization"); len(h) > 0 {
		scheme, tok, ok := strings.Cut(h[0], " ")
		if len(h) != 1 || !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
			return "", false, errInvalidToken.WithCause(errors.New("authorization header is not one bearer token"))
		}
		return strings.TrimSpace(tok), false, nil
	}
	if c := cookieValue(r, AccessCookie); c != "" {
		return c, true, nil
	}
	return "", false, errUnauthenticated
}

// Check verifies an access token and its session and returns the
// Principal. Errors are *web.Error: 401 invalid_token, or 503 when keys or
// the database cannot be reached.
//
// The session's state comes from the cache when the store's session feed
// is live and has it, else from the database (a read that refills the
// cache when nothing changed meanwhile). A cached session that looks
// expired is read again (a refresh elsewhere may have extended it); a
// revoked one is never cached, since the feed drops it at revocation.
func (m *Manager) Check(ctx context.Context, tok string) (Principal, error) {
	claims, err := m.signer.Verify(ctx, tok)
	switch {
	case errors.Is(err, token.ErrUnavailable):
		return Principal{}, web.Unavailable(err)
	case err != nil:
		return Principal{}, errInvalidToken.WithCause(err)
	}
	now := m.now()
	s, ok := m.cachedSession(claims.SessionID)
	if !ok || !s.Active(now) {
		if s, err = m.readSession(ctx, claims.SessionID, now); err != nil {
			return Principal{}, err
		}
	}
	switch {
	case s.UserID != claims.Subject:
		return Principal{}, errInvalidToken.WithCause(fmt.Errorf("session %s is not the subject's", s.ID))
	case !s.Active(now):
		return Principal{}, errInvalidToken.WithCause(fmt.Errorf("session %s is not active", s.ID))
	}
	return Principal{UserID: s.UserID, SessionID: s.ID, AuthTime: s.AuthTime, Methods: s.AuthMethods, Level: s.AuthLevel,
		Started: s.CreatedAt, LastSeen: s.LastSeenAt, LongestIdle: s.LongestIdle, Token: claims}, nil
}

func (m *Manager) cachedSession(id string) (store.Session, bool) {
	if m.cache == nil {
		return store.Session{}, false
	}
	return m.cache.Get(id)
}

// readSession reads the check state of session id and caches it if active.
func (m *Manager) readSession(ctx context.Context, id string, now time.Time) (store.Session, error) {
	var ticket sessioncache.Ticket
	if m.cache != nil {
		ticket = m.cache.Begin()
	}
	s, err := m.store.SessionCheck(ctx, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return s, errInvalidToken.WithCause(err)
	case err != nil:
		return s, web.Unavailable(err)
	}
	if m.cache != nil && s.Active(now) {
		m.cache.Put(ticket, s)
	}
	return s, nil
}
