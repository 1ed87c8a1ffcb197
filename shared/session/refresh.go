package session

import (
	"time"

	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"

	"github.com/gatehouse-dev/gatehouse/shared/audit"
	"github.com/gatehouse-dev/gatehouse/shared/envelope"
	"github.com/gatehouse-dev/gatehouse/shared/events"
	"github.com/gatehouse-dev/gatehouse/shared/notify"
	"github.com/gatehouse-dev/gatehouse/shared/store"
	"github.com/gatehouse-dev/gatehouse/shared/token"
	"github.com/gatehouse-dev/gatehouse/shared/web"
)

// refreshRequest is the API-mode body of POST /token.
type refreshRequest struct {
	RefreshToken string `json:"refresh_token"`
	Organization string `json:"organization"`
}

// browserRefreshRequest is the optional browser-mode body of POST /token:
// the refresh token travels in its cookie.
type browserRefreshRequest struct {
	Organization string `json:"organization"`
}

// Refresh serves POST /token: it takes the refresh token (the JSON field
// "refresh_token" from API clients; the refresh cookie, with Origin and
// CSRF checks, from browsers), rotates it and answers like [Manager.Complete]
// with a new access token and the successor refresh token.
//
// With "organization" in the body the access token is organization-scoped
// ([token.Org]): it is minted only if the user is a member (else 403
// forbidden, and the refresh token is not spent), with the role and
// permissions the member holds now.
//
// Successors are derived, not stored: successor = HMAC-SHA256(session
// refresh key, presented token), the key sealed in the session row. So a
// token rotated within the grace period can be answered once more with the
// same successor (two tabs refreshing at once) without the store ever
// holding a refresh token in the clear. Any other presentation of a rotated
// token is reuse: the session is revoked, audited, and the user notified.
func (m *Manager) Refresh(w http.ResponseWriter, r *http.Request) error {
	presented, orgID, err := m.presentedRefresh(r)
	if err != nil {
		return err
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(presented)
	if err != nil || len(raw) != 32 {
		return errInvalidGrant.WithCause(errors.New("malformed refresh token"))
	}
	var org *token.Org
	s, next, err := m.rotate(r.Context(), r, raw, func(s store.Session) (err error) {
		org, err = m.orgClaims(r.Context(), orgID, s.UserID)
		return err
	})
	if err != nil {
		m.metrics.Refresh(r.Context(), "rejected")
		if IsBrowser(r) && !errors.Is(err, errNotMember) {
			clearCookies(w)
		}
		return err
	}
	c := client{network: s.Network, userAgent: s.UserAgent, deviceID: s.DeviceID}
	return m.writeTokens(r.Context(), w, r, s, next, c, org)
}

// presentedRefresh returns the refresh token and the organization asked
// for ("" for none).
func (m *Manager) presentedRefresh(r *http.Request) (string, string, error) {
	v := web.NewValidator()
	if IsBrowser(r) {
		if err := m.checkBrowser(r); err != nil {
			return "", "", err
		}
		var req browserRefreshRequest
		if r.Header.Get("Content-Type") != "" {
			if err := web.DecodeJSON(r, &req); err != nil {
				return "", "", err
			}
		}
		v.Length("organization", req.Organization, 0, maxOrgIDLen)
		if err := v.Err(); err != nil {
			return "", "", err
		}
		if c := cookieValue(r, RefreshCookie); c != "" {
			return c, req.Organization, nil
		}
		return "", "", errInvalidGrant.WithCause(errors.New("no refresh cookie"))
	}
	var req refreshRequest
	if err := web.DecodeJSON(r, &req); err != nil {
		return "", "", err
	}
	v.Length("refresh_token", req.RefreshToken, 1, 64)
	v.Length("organization", req.Organization, 0, maxOrgIDLen)
	return req.RefreshToken, req.Organization, v.Err()
}

// rotate exchanges a refresh token for its successor and returns the
// session. See [Manager.Refresh]. admit decides, from the session the
// token belongs to, whether to go on; its error is returned before the
// token is spent. A current token costs two statements, one round trip
// each: the read of token and session together, then the rotation (one
// statement on PostgreSQL), plus whatever admit reads (a membership, for
// an organization-scoped token). A rotated token, or one that lost a race,
// takes the locking transaction that decides between the grace and reuse.
func (m *Manager) rotate(ctx context.Context, r *http.Request, raw []byte, admit func(store.Session) error) (store.Session, []byte, error) {
	hash := sha256.Sum256(raw)
	now := m.now()
	rt, s, err := m.store.RefreshTokenSession(ctx, hash)
	if err != nil {
		return store.Session{}, nil, grantError(err)
	}
	if !s.Active(now) {
		return store.Session{}, nil, errInvalidGrant.WithCause(errors.New("session not active"))
	}
	if err := admit(s); err != nil {
		return store.Session{}, nil, err
	}
	if err := m.recordIdle(ctx, s, now); err != nil {
		return store.Session{}, nil, unavailable(err)
	}
	next, err := m.successor(ctx, s, raw)
	if err != nil {
		return store.Session{}, nil, unavailable(err)
	}
	nextToken := store.RefreshToken{Hash: sha256.Sum256(next), SessionID: s.ID, IssuedAt: now}
	idleUntil := minTime(now.Add(m.cfg.IdleTimeout), s.AbsoluteExpiresAt)
	if rt.RotatedAt.IsZero() {
		err := m.store.RotateRefreshToken(ctx, hash, nextToken, idleUntil)
		if err == nil {
			m.metrics.Refresh(ctx, "rotated")
			return s, next, nil
		}
		if !errors.Is(err, store.ErrUsed) {
			return store.Session{}, nil, grantError(err)
		}
	}
	var reused, graced bool
	err = m.store.Tx(ctx, func(tx store.Store) error {
		reused, graced = false, false
		rt, err := tx.RefreshToken(ctx, hash) // locks the row
		if err != nil {
			return err
		}
		cur, err := tx.SessionCheck(ctx, s.ID)
		if err != nil {
			return err
		}
		if !cur.Active(now) { // ended meanwhile (a sign-out): no reuse to report
			return fmt.Errorf("session %s ended: %w", s.ID, store.ErrNotFound)
		}
		if rt.RotatedAt.IsZero() {
			return tx.RotateRefreshToken(ctx, hash, nextToken, idleUntil)
		}
		if m.cfg.RefreshGrace > 0 {
			err := tx.UseRefreshGrace(ctx, hash, now.Add(-m.cfg.RefreshGrace))
			if !errors.Is(err, store.ErrUsed) {
				graced = err == nil
				return err
			}
		}
		reused = true
		return m.revokeReused(ctx, tx, s, r)
	})
	switch {
	case err != nil:
		return store.Session{}, nil, grantError(err)
	case reused:
		m.metrics.ReuseDetected(ctx)
		m.alertReuse(ctx, s.UserID)
		return store.Session{}, nil, errInvalidGrant.WithCause(fmt.Errorf("refresh token of session %s reused", s.ID))
	case graced:
		m.metrics.Refresh(ctx, "grace")
	default:
		m.metrics.Refresh(ctx, "rotated")
	}
	return s, next, nil
}

// successor derives the token that follows raw in session s.
func (m *Manager) successor(ctx context.Context, s store.Session, raw []byte) ([]byte, error) {
	key, err := m.keyring.Open(ctx, envelope.PurposeSigningKey, refreshBinding(s.ID), s.RefreshKey)
	if err != nil {
		return nil, fmt.Errorf("open refresh key of session %s: %w", s.ID, err)
	}
	defer clear(key)
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte("gatehouse/refresh/v1"))
	mac.Write(raw)
	return mac.Sum(nil), nil
}

func grantError(err error) error {
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrUsed) {
		return errInvalidGrant.WithCause(err)
	}
	return unavailable(err)
}

// revokeReused revokes a session whose rotated refresh token came back.
func (m *Manager) revokeReused(ctx context.Context, tx store.Store, s store.Session, r *http.Request) error {
	if err := tx.RevokeSession(ctx, s.ID, m.now(), "refresh_token_reuse"); err != nil {
		return err
	}
	_, err := m.audit.RecordTx(ctx, tx, audit.Event{Actor: s.UserID, Action: "auth.refresh_reuse", Target: s.UserID,
		Outcome: store.OutcomeDenied, Network: web.Network(web.ClientIP(r, m.cfg.TrustedProxyHops)).String(),
		Metadata: map[string]any{"session": s.ID}})
	if err != nil {
		return err
	}
	return m.emitRevoked(ctx, tx, 1, events.SessionRevokedData{UserID: s.UserID, SessionID: s.ID, Reason: "refresh_token_reuse"})
}

// alertReuse tells the user a session was ended because its refresh token
// was used twice, which means it was copied.
func (m *Manager) alertReuse(ctx context.Context, userID string) {
	u, err := m.store.User(ctx, userID)
	if err == nil {
		err = m.notifier.Notify(ctx, notify.Message{To: u.Email, Kind: notify.KindAlert,
			Subject: "A session of your account was ended",
			Text: "A sign-in token of your account was used twice, which means it may have been copied. " +
				"We ended that session. If you did not expect this, change your password and sign out everywhere."})
	}
	if err != nil {
		m.logger.ErrorContext(ctx, "refresh reuse alert not sent", "user", userID, "error", err.Error())
	}
}

// Logout revokes the request's session (the Principal's) and clears the
// browser cookies and, in browser mode, the site's data ([SignedOut]).
func (m *Manager) Logout(w http.ResponseWriter, r *http.Request) error {
	p, ok := FromContext(r.Context())
	if !ok {
		return errUnauthenticated
	}
	err := m.store.Tx(r.Context(), func(tx store.Store) error {
		if err := tx.RevokeSession(r.Context(), p.SessionID, m.now(), "logout"); err != nil {
			return err
		}
		_, err := m.audit.RecordTx(r.Context(), tx, audit.Event{Actor: p.UserID, Action: "auth.logout",
			Target: p.UserID, Metadata: map[string]any{"session": p.SessionID}})
		if err != nil {
			return err
		}
		return m.emitRevoked(r.Context(), tx, 1, events.SessionRevokedData{UserID: p.UserID, SessionID: p.SessionID, Reason: "logout"})
	})
	if err != nil {
		return unavailable(err)
	}
	SignedOut(w, r)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// LogoutAll revokes every session of the request's user ("sign out
// everywhere"), this one included, and answers like [Manager.Logout].
func (m *Manager) LogoutAll(w http.ResponseWriter, r *http.Request) error {
	p, ok := FromContext(r.Context())
	if !ok {
		return errUnauthenticated
	}
	err := m.store.Tx(r.Context(), func(tx store.Store) error {
		return m.revokeAll(r.Context(), tx, p.UserID, "logout_all")
	})
	if err != nil {
		return unavailable(err)
	}
	SignedOut(w, r)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// RevokeAllForUser revokes every session of userID through tx and audits
// it. Run it in the transaction of the change that requires it (password
// reset, account deletion, a second factor removed).
func (m *Manager) RevokeAllForUser(ctx context.Context, tx store.Store, userID string) error {
	return m.revokeAll(ctx, tx, userID, "revoke_all")
}

func (m *Manager) revokeAll(ctx context.Context, tx store.Store, userID, reason string) error {
	n, err := tx.RevokeUserSessions(ctx, userID, m.now(), reason)
	if err != nil {
		return err
	}
	_, err = m.audit.RecordTx(ctx, tx, audit.Event{Actor: userID, Action: "auth.sessions_revoked", Target: userID,
		Metadata: map[string]any{"reason": reason, "count": n}})
	if err != nil {
		return err
	}
	return m.emitRevoked(ctx, tx, n, events.SessionRevokedData{UserID: userID, Reason: reason})
}

// MinRecordedIdle is the shortest gap between refreshes a session records
// (longer than an access token lives, so a session in use never records
// one); organizations' idle timeouts are never shorter.
const MinRecordedIdle = 15 * time.Minute

// recordIdle records, before the refresh that ends it, how long s went
// unrefreshed, when that is the longest gap so far and at least
// MinRecordedIdle: an organization's idle timeout refuses a session that
// was ever idle longer than it allows (authz), and a refresh must not
// erase that.
func (m *Manager) recordIdle(ctx context.Context, s store.Session, now time.Time) error {
	last := s.LastSeenAt
	if last.Before(s.CreatedAt) {
		last = s.CreatedAt
	}
	gap := now.Sub(last)
	if gap < MinRecordedIdle || gap <= s.LongestIdle {
		return nil
	}
	return m.store.RecordSessionIdle(ctx, s.ID, gap)
}
