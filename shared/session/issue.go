package session

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/audit"
	"github.com/gatehouse-dev/gatehouse/shared/envelope"
	"github.com/gatehouse-dev/gatehouse/shared/notify"
	"github.com/gatehouse-dev/gatehouse/shared/store"
	"github.com/gatehouse-dev/gatehouse/shared/token"
	"github.com/gatehouse-dev/gatehouse/shared/web"
)

// TokenResponse is the body of a successful sign-in or refresh. Browser
// clients get the tokens only as cookies, so AccessToken and RefreshToken
// are empty for them.
type TokenResponse struct {
	AccessToken  string `json:"access_token,omitempty"`
	RefreshToken string `json:"refresh_token,omitempty"`
	TokenType    string `json:"token_type"` // "Bearer" or "cookie"
	ExpiresIn    int    `json:"expires_in"` // access-token lifetime in seconds
	SessionID    string `json:"session_id"`
	UserID       string `json:"user_id"`
	// OrgID names the organization an organization-scoped access token
	// is for; empty otherwise.
	OrgID string `json:"org_id,omitempty"`
}

// randomID returns n random bytes, base64url-encoded.
func (m *Manager) randomID(n int) (string, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(m.rand, b); err != nil {
		return "", fmt.Errorf("read randomness: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// refreshBinding is where a session's sealed refresh key belongs.
func refreshBinding(sessionID string) envelope.Binding {
	return envelope.Binding{Record: sessionID, Field: "sessions.refresh_key"}
}

// client describes where a request comes from.
type client struct {
	network   string
	userAgent string
	deviceID  string
	newDevice bool // no valid device cookie: one is set in the response
}

func (m *Manager) client(r *http.Request) (client, error) {
	c := client{network: web.Network(web.ClientIP(r, m.cfg.TrustedProxyHops)).String(),
		userAgent: printable(r.UserAgent(), 256), deviceID: cookieValue(r, DeviceCookie)}
	if !validID(c.deviceID) {
		id, err := m.randomID(32)
		if err != nil {
			return c, err
		}
		c.deviceID, c.newDevice = id, true
	}
	return c, nil
}

// printable returns at most n bytes of s with every byte that is not
// printable ASCII replaced by '?': user agents end up in alert e-mails.
func printable(s string, n int) string {
	b := []byte(s[:min(len(s), n)])
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			b[i] = '?'
		}
	}
	return string(b)
}

// ErrAccountDisabled is the answer to a sign-in of a user an operator
// disabled, given only once the user has proven who they are.
var ErrAccountDisabled = &web.Error{Status: http.StatusForbidden, Code: "account_disabled",
	Message: "This account is disabled. Contact support."}

// Complete starts a session for userID after full authentication with
// methods (RFC 8176 amr values, e.g. ["pwd"] or ["pwd","otp"]), records it
// in the audit log, alerts the user when the device or network is new, and
// writes the 200 token response: JSON tokens for API clients, cookies for
// browsers (see [IsBrowser]). A disabled user gets [ErrAccountDisabled]. An error is a *web.Error to return as is.
func (m *Manager) Complete(ctx context.Context, w http.ResponseWriter, r *http.Request, userID string, methods []string) error {
	return m.CompleteSSO(ctx, w, r, userID, methods, "")
}

// CompleteSSO is [Manager.Complete] for a sign-in through the single
// sign-on (OIDC or SAML) of organization ssoOrg ("" for any other): the
// session records it ([store.Session.SSOOrgID]) for its whole life, so the
// organization's SCIM deprovisioning ends it and its require_sso keeps it.
func (m *Manager) CompleteSSO(ctx context.Context, w http.ResponseWriter, r *http.Request, userID string, methods []string,
	ssoOrg string) error {
	if err := m.CheckClient(r); err != nil {
		return err
	}
	c, err := m.client(r)
	if err != nil {
		return err
	}
	now := m.now()
	sess, refresh, err := m.newSession(ctx, userID, methods, c, now)
	if err != nil {
		return unavailable(err)
	}
	sess.SSOOrgID = ssoOrg
	var alert bool
	err = m.store.Tx(ctx, func(tx store.Store) error {
		if err := tx.CreateSession(ctx, sess, store.RefreshToken{Hash: sha256.Sum256(refresh), IssuedAt: now}); err != nil {
			return err
		}
		alert, err = m.checkDevice(ctx, tx, sess, now)
		if err != nil {
			return err
		}
		_, err = m.audit.RecordTx(ctx, tx, audit.Event{Actor: userID, Action: "auth.login", Target: userID,
			Network: c.network, Metadata: loginMetadata(sess, alert)})
		return err
	})
	if errors.Is(err, store.ErrDisabled) {
		return ErrAccountDisabled.WithCause(err)
	}
	if err != nil {
		return unavailable(fmt.Errorf("create session: %w", err))
	}
	m.metrics.SignIn(ctx, strings.Join(methods, "+"), "success")
	if alert {
		m.alertNewDevice(ctx, userID, c)
	}
	return m.writeTokens(ctx, w, r, sess, refresh, c, nil)
}

// loginMetadata is what the audit event of a sign-in records.
func loginMetadata(s store.Session, newDevice bool) map[string]any {
	meta := map[string]any{"session": s.ID, "methods": s.AuthMethods, "new_device": newDevice}
	if s.SSOOrgID != "" {
		meta["sso_org"] = s.SSOOrgID
	}
	return meta
}

// CheckClient makes the checks [Manager.Complete] makes of the request
// itself: a browser-mode request must come from an allowed Origin, since
// cookies are set only for the app's own origins (no login CSRF from
// another site). A top-level GET (the OAuth sign-in callback) carries no
// Origin and is vouched for by its state and flow cookie instead. Routes
// that spend a single-use value before completing a sign-in call it first,
// so a refused request spends nothing (AUTH-15). The error is a 403
// *web.Error.
func (m *Manager) CheckClient(r *http.Request) error {
	if IsBrowser(r) {
		return web.CheckOrigin(r, m.cfg.AllowedOrigins)
	}
	return nil
}

// newSession builds the row of a new session and its first refresh token.
func (m *Manager) newSession(ctx context.Context, userID string, methods []string, c client, now time.Time) (store.Session, []byte, error) {
	id, err := m.randomID(16)
	if err != nil {
		return store.Session{}, nil, err
	}
	key := make([]byte, 32)
	refresh := make([]byte, 32)
	defer clear(key)
	for _, b := range [][]byte{key, refresh} {
		if _, err := io.ReadFull(m.rand, b); err != nil {
			return store.Session{}, nil, fmt.Errorf("read randomness: %w", err)
		}
	}
	sealed, err := m.keyring.Seal(ctx, envelope.PurposeSigningKey, refreshBinding(id), key)
	if err != nil {
		return store.Session{}, nil, fmt.Errorf("seal refresh key: %w", err)
	}
	abs := now.Add(m.cfg.AbsoluteTimeout)
	return store.Session{ID: id, UserID: userID, CreatedAt: now, LastSeenAt: now,
		IdleExpiresAt: minTime(now.Add(m.cfg.IdleTimeout), abs), AbsoluteExpiresAt: abs,
		Network: c.network, UserAgent: c.userAgent, DeviceID: c.deviceID,
		AuthMethods: methods, AuthLevel: level(methods), AuthTime: now, RefreshKey: sealed}, refresh, nil
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// checkDevice records the session's (device, network) pair and reports
// whether the user should be alerted: the pair was not seen within the
// new-device window and the user has signed in before (a first sign-in is
// not news).
func (m *Manager) checkDevice(ctx context.Context, tx store.Store, s store.Session, now time.Time) (bool, error) {
	hasDevices, err := tx.UserHasDevices(ctx, s.UserID)
	if err != nil {
		return false, err
	}
	err = tx.SeenDevice(ctx, s.UserID, s.DeviceID, s.Network, now.Add(-m.cfg.NewDeviceWindow))
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return false, err
	}
	seen := err == nil
	err = tx.RecordDevice(ctx, store.KnownDevice{UserID: s.UserID, DeviceID: s.DeviceID, Network: s.Network,
		FirstSeenAt: now, LastSeenAt: now})
	if err != nil {
		return false, err
	}
	alert := hasDevices && !seen
	if alert {
		_, err = m.audit.RecordTx(ctx, tx, audit.Event{Actor: s.UserID, Action: "auth.new_device", Target: s.UserID,
			Network: s.Network, Metadata: map[string]any{"session": s.ID}})
	}
	return alert, err
}

// alertNewDevice tells the user about a sign-in from a new device or
// network. A failure is logged: the sign-in itself has already happened.
func (m *Manager) alertNewDevice(ctx context.Context, userID string, c client) {
	u, err := m.store.User(ctx, userID)
	if err == nil {
		err = m.notifier.Notify(ctx, notify.Message{To: u.Email, Kind: notify.KindNewDevice,
			Subject: "New sign-in to your account",
			Text: "Your account was just signed in to from a device or network we have not seen recently (network " +
				c.network + ", browser " + c.userAgent + "). If this was not you, reset your password and sign out everywhere."})
	}
	if err != nil {
		m.logger.ErrorContext(ctx, "new-device alert not sent", "user", userID, "error", err.Error())
	}
}

// writeTokens signs an access token for s (scoped to org, if not nil) and
// writes the token response.
func (m *Manager) writeTokens(ctx context.Context, w http.ResponseWriter, r *http.Request, s store.Session, refresh []byte, c client, org *token.Org) error {
	access, claims, err := m.signer.Sign(ctx, token.Claims{Subject: s.UserID, SessionID: s.ID, Org: org})
	if err != nil {
		return unavailable(err)
	}
	rt := base64.RawURLEncoding.EncodeToString(refresh)
	resp := TokenResponse{TokenType: "Bearer", ExpiresIn: int(claims.ExpiresAt.Sub(claims.IssuedAt) / time.Second),
		SessionID: s.ID, UserID: s.UserID}
	if org != nil {
		resp.OrgID = org.ID
	}
	http.SetCookie(w, secretCookie(DeviceCookie, c.deviceID, deviceCookieAge))
	if !IsBrowser(r) {
		resp.AccessToken, resp.RefreshToken = access, rt
		return web.WriteTokenJSON(w, http.StatusOK, resp)
	}
	csrf, err := web.NewCSRFToken(m.rand)
	if err != nil {
		return err
	}
	resp.TokenType = "cookie"
	http.SetCookie(w, secretCookie(AccessCookie, access, m.signer.TTL()))
	http.SetCookie(w, secretCookie(RefreshCookie, rt, s.AbsoluteExpiresAt.Sub(m.now())))
	http.SetCookie(w, web.CSRFCookie(CSRFCookie, csrf))
	return web.WriteTokenJSON(w, http.StatusOK, resp)
}
