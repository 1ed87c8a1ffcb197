package auth

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"

	"github.com/gatehouse-dev/gatehouse/shared/audit"
	"github.com/gatehouse-dev/gatehouse/shared/ratelimit"
	"github.com/gatehouse-dev/gatehouse/shared/store"
	"github.com/gatehouse-dev/gatehouse/shared/token"
	"github.com/gatehouse-dev/gatehouse/shared/web"
)

// limitRevokeNetwork bounds POST /token/revoke per client network.
var limitRevokeNetwork = ratelimit.RevokeNetwork

// handleRevoke serves POST /token/revoke, RFC 7009 revocation. The token
// is its own proof, as for POST /logout: public clients (browsers, apps)
// send no client authentication; a client that sends HTTP Basic
// credentials must be a valid introspection client. A refresh token or an
// access token ends the session it belongs to (access tokens are bound to
// their session, so every token of the session stops working at once).
// As RFC 7009 section 2.2 requires, an invalid, expired or already
// revoked token is answered 200 all the same.
func (s *Server) handleRevoke(w http.ResponseWriter, r *http.Request) error {
	if _, _, basic := r.BasicAuth(); basic || r.Header.Get("Authorization") != "" {
		if _, err := s.introspectionClient(r); err != nil {
			return err
		}
	}
	form, err := web.DecodeForm(r, "token", "token_type_hint")
	if err != nil {
		return err
	}
	v := web.NewValidator()
	v.Length("token", form.Get("token"), 1, 4096)
	v.Length("token_type_hint", form.Get("token_type_hint"), 0, 64)
	if err := v.Err(); err != nil {
		return err
	}
	if err := s.limit(r.Context(), ratelimit.Check{Limit: limitRevokeNetwork, Key: s.network(r)}); err != nil {
		return err
	}
	sessionID, userID, err := s.tokenSession(r.Context(), form.Get("token"))
	if err != nil {
		return err
	}
	if sessionID != "" {
		if err := s.revokeSession(r, sessionID, userID); err != nil {
			return err
		}
	}
	web.NoStore(w)
	w.WriteHeader(http.StatusOK)
	return nil
}

// tokenSession finds the session tok belongs to, as a refresh token (a
// rotated one too: whoever holds it could end the session by reusing it
// anyway) or as a valid access token. It returns "" for anything else.
func (s *Server) tokenSession(ctx context.Context, tok string) (sessionID, userID string, err error) {
	if raw, derr := base64.RawURLEncoding.Strict().DecodeString(tok); derr == nil && len(raw) == 32 {
		rt, err := s.d.Store.RefreshToken(ctx, sha256.Sum256(raw))
		switch {
		case errors.Is(err, store.ErrNotFound):
			return "", "", nil
		case err != nil:
			return "", "", web.Unavailable(err)
		}
		sess, err := s.d.Store.Session(ctx, rt.SessionID)
		if err != nil {
			return "", "", keepNotFound(err)
		}
		return sess.ID, sess.UserID, nil
	}
	claims, err := s.signer.Verify(ctx, tok)
	switch {
	case errors.Is(err, token.ErrUnavailable):
		return "", "", web.Unavailable(err)
	case err != nil:
		return "", "", nil
	}
	return claims.SessionID, claims.Subject, nil
}

// keepNotFound maps a vanished row to "nothing to revoke" and any other
// store failure to 503.
func keepNotFound(err error) error {
	if err == nil || errors.Is(err, store.ErrNotFound) {
		return nil
	}
	return web.Unavailable(err)
}

// revokeSession ends session id of userID, if it is still active, with
// an audit event in the same transaction.
func (s *Server) revokeSession(r *http.Request, id, userID string) error {
	ctx := r.Context()
	now := s.d.Now()
	err := s.d.Store.Tx(ctx, func(tx store.Store) error {
		sess, err := tx.Session(ctx, id)
		if err != nil {
			return err
		}
		if sess.UserID != userID || !sess.Active(now) {
			return nil
		}
		if err := tx.RevokeSession(ctx, id, now, "token_revoked"); err != nil {
			return err
		}
		_, err = s.d.Audit.RecordTx(ctx, tx, audit.Event{Actor: userID, Action: "auth.token_revoke", Target: userID,
			Network: s.network(r), Metadata: map[string]any{"session": id}})
		return err
	})
	return keepNotFound(err)
}
