package auth

import (
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/audit"
	"github.com/gatehouse-dev/gatehouse/shared/session"
	"github.com/gatehouse-dev/gatehouse/shared/store"
	"github.com/gatehouse-dev/gatehouse/shared/web"
)

// sessionJSON is a session as its owner sees it.
type sessionJSON struct {
	ID                string    `json:"id"`
	Current           bool      `json:"current"`
	CreatedAt         time.Time `json:"created_at"`
	LastSeenAt        time.Time `json:"last_seen_at"`
	IdleExpiresAt     time.Time `json:"idle_expires_at"`
	AbsoluteExpiresAt time.Time `json:"absolute_expires_at"`
	Network           string    `json:"network"`
	UserAgent         string    `json:"user_agent"`
	AuthMethods       []string  `json:"auth_methods"`
	AuthLevel         int       `json:"auth_level"`
	AuthTime          time.Time `json:"auth_time"`
	// SSOOrgID is the organization whose single sign-on started the
	// session; absent for any other sign-in and for SSO sessions from
	// before sessions recorded it.
	SSOOrgID string `json:"sso_org_id,omitempty"`
	// In the data export only, for sessions that ended.
	RevokedAt    *time.Time `json:"revoked_at,omitempty"`
	RevokeReason string     `json:"revoke_reason,omitempty"`
}

func toSessionJSON(s store.Session, current string) sessionJSON {
	out := sessionJSON{ID: s.ID, Current: s.ID == current, CreatedAt: s.CreatedAt.UTC(), LastSeenAt: s.LastSeenAt.UTC(),
		IdleExpiresAt: s.IdleExpiresAt.UTC(), AbsoluteExpiresAt: s.AbsoluteExpiresAt.UTC(), Network: s.Network,
		UserAgent: s.UserAgent, AuthMethods: nonNil(s.AuthMethods), AuthLevel: s.AuthLevel, AuthTime: s.AuthTime.UTC(),
		RevokeReason: s.RevokeReason}
	if s.SSOOrgID != store.SSOOrgUnknown {
		out.SSOOrgID = s.SSOOrgID
	}
	if !s.RevokedAt.IsZero() {
		at := s.RevokedAt.UTC()
		out.RevokedAt = &at
	}
	return out
}

// handleSessions serves GET /sessions: the user's active sessions.
func (s *Server) handleSessions(w http.ResponseWriter, r *http.Request) error {
	p, _ := session.FromContext(r.Context())
	list, err := s.d.Store.UserSessions(r.Context(), p.UserID, s.d.Now())
	if err != nil {
		return web.Unavailable(err)
	}
	out := make([]sessionJSON, 0, len(list))
	for _, sess := range list {
		out = append(out, toSessionJSON(sess, p.SessionID))
	}
	return web.WriteJSON(w, http.StatusOK, map[string]any{"sessions": out})
}

// handleSessionDelete serves DELETE /sessions/{id}: it revokes one of the
// user's own sessions; anyone else's is "not found".
func (s *Server) handleSessionDelete(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	p, _ := session.FromContext(ctx)
	id := r.PathValue("id")
	if len(id) > 64 {
		return web.NotFound()
	}
	err := s.d.Store.Tx(ctx, func(tx store.Store) error {
		sess, err := tx.Session(ctx, id)
		if errors.Is(err, store.ErrNotFound) || (err == nil && sess.UserID != p.UserID) {
			return web.NotFound()
		}
		if err != nil {
			return err
		}
		if err := tx.RevokeSession(ctx, id, s.d.Now(), "revoked_by_user"); err != nil {
			return err
		}
		_, err = s.d.Audit.RecordTx(ctx, tx, audit.Event{Actor: p.UserID, Action: "auth.session_revoke",
			Target: p.UserID, Network: s.network(r), Metadata: map[string]any{"session": id}})
		return err
	})
	if err := keepWebError(err); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type reauthRequest struct {
	Method   string          `json:"method"`
	Password string          `json:"password"`
	Proof    json.RawMessage `json:"proof"`
}

// amr maps a step-up method to its RFC 8176 value.
var amr = map[string]string{"password": "pwd", "totp": "otp", "recovery_code": "rc", "webauthn": "hwk"}

// handleReauthenticate serves POST /reauthenticate: the signed-in user
// proves who they are again (step-up), under the same limits and lockout
// as sign-in. A user with a second factor must use it.
func (s *Server) handleReauthenticate(w http.ResponseWriter, r *http.Request) error {
	var req reauthRequest
	if err := web.DecodeJSON(r, &req); err != nil {
		return err
	}
	v := web.NewValidator()
	v.OneOf("method", req.Method, "password", "totp", "recovery_code", "webauthn")
	if req.Method == "password" {
		v.Require(req.Password != "" && len(req.Password) <= maxPasswordBytes, "password", "must be 1 to 1024 bytes")
	} else {
		v.Require(len(req.Proof) > 0, "proof", "is required")
	}
	if err := v.Err(); err != nil {
		return err
	}
	ctx := r.Context()
	p, _ := session.FromContext(ctx)
	u, err := s.d.Store.User(ctx, p.UserID)
	if err != nil {
		return web.Unavailable(err)
	}
	second, err := s.ext.Methods(ctx, u.ID)
	if err != nil {
		return keepWebError(err)
	}
	if req.Method == "password" && len(second) > 0 {
		return web.BadRequest("second_factor_required", "Confirm with your second factor.")
	}
	if err := s.stepUp(r, u, req); err != nil {
		return err
	}
	if err := s.sessions.Reauthenticated(ctx, p, []string{amr[req.Method]}); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// stepUp checks the proof of req under the sign-in limits and lockout.
func (s *Server) stepUp(r *http.Request, u store.User, req reauthRequest) error {
	ctx := r.Context()
	if req.Method != "password" {
		if err := s.sessions.GuardSecondFactor(ctx, r, u.ID); err != nil {
			return err
		}
		err := s.ext.StepUp(ctx, r, u.ID, req.Method, req.Proof)
		var we *web.Error
		if errors.As(err, &we) && we.Status == http.StatusUnauthorized {
			if ferr := s.sessions.SecondFactorFailed(ctx, r, u.ID); ferr != nil {
				return web.Unavailable(ferr)
			}
		}
		return keepWebError(err)
	}
	attempt, err := s.sessions.BeginLogin(ctx, r, u.Email, u.ID)
	if err != nil {
		return err
	}
	if err := s.verifyPassword(ctx, u, req.Password); err != nil || attempt.Locked() {
		return s.loginFailed(ctx, r, attempt, u.ID, err)
	}
	return nil
}
