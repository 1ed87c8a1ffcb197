package oauthcallback

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/audit"
	"github.com/gatehouse-dev/gatehouse/shared/authz"
	"github.com/gatehouse-dev/gatehouse/shared/broker"
	"github.com/gatehouse-dev/gatehouse/shared/envelope"
	"github.com/gatehouse-dev/gatehouse/shared/events"
	"github.com/gatehouse-dev/gatehouse/shared/provider"
	"github.com/gatehouse-dev/gatehouse/shared/store"
	"github.com/gatehouse-dev/gatehouse/shared/web"
)

// revokeTimeout bounds the call to the platform's revocation endpoint.
const revokeTimeout = 10 * time.Second

// disconnect answers POST /connections/{id}/disconnect?org= (CRED-6): the
// connection is REVOKED at once, in one transaction with its audit event;
// then, outside it, the platform is asked to revoke the grant. A failure
// there is logged and audited but never undoes the disconnect. Repeating
// the call on a revoked connection changes nothing.
func (s *server) disconnect(w http.ResponseWriter, r *http.Request) error {
	if _, err := strictQuery(r.URL.Query(), "org"); err != nil {
		return err
	}
	if err := s.sessions.RequireRecentAuth(r.Context()); err != nil {
		return err
	}
	ctx := r.Context()
	m, _ := authz.MemberFrom(ctx)
	c, err := s.d.Store.Connection(ctx, m.OrgID, r.PathValue("id"))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return web.NotFound()
	case err != nil:
		return web.Unavailable(err)
	case c.Status == store.ConnectionRevoked:
		return web.WriteJSON(w, http.StatusOK, map[string]any{"id": c.ID, "status": c.Status, "revoked_at_provider": false})
	}
	err = s.d.Store.Tx(ctx, func(tx store.Store) error {
		// Decide again with the organization locked: a demotion that
		// committed since authz.Require ran is seen here (AUTHZ-2).
		if _, err := authz.Recheck(ctx, tx, m); err != nil {
			return err
		}
		if err := tx.SetConnectionStatus(ctx, c.OrgID, c.ID, store.ConnectionRevoked, "disconnected", s.d.Now()); err != nil {
			return err
		}
		_, err := s.d.Audit.RecordTx(ctx, tx, audit.Event{Actor: m.UserID, OrgID: c.OrgID, Action: "credential.revoke",
			Target: c.ID, Network: s.network(r), Metadata: map[string]any{"platform": c.Platform}})
		if err != nil {
			return err
		}
		return s.d.Events.Emit(ctx, tx, events.Connection(events.ConnectionRevoked,
			events.ConnectionData{ConnectionID: c.ID, UserID: m.UserID, OrgID: c.OrgID, Provider: c.Platform, Reason: "disconnected"}))
	})
	var refused *web.Error
	switch {
	case errors.As(err, &refused):
		return err
	case errors.Is(err, store.ErrNotFound):
		return web.WriteJSON(w, http.StatusOK, map[string]any{"id": c.ID, "status": store.ConnectionRevoked, "revoked_at_provider": false})
	case err != nil:
		return web.Unavailable(fmt.Errorf("revoke connection %s: %w", c.ID, err))
	}
	atProvider := s.revokeAtProvider(ctx, r, m.UserID, c)
	return web.WriteJSON(w, http.StatusOK, map[string]any{"id": c.ID, "status": store.ConnectionRevoked, "revoked_at_provider": atProvider})
}

// revokeAtProvider asks the platform to revoke c's grant and audits the
// outcome. It is the one use of a revoked connection's ciphertext: opened
// only to be sent to the revocation endpoint.
func (s *server) revokeAtProvider(ctx context.Context, r *http.Request, actor string, c store.Connection) bool {
	p, err := s.registry.Lookup(c.Platform)
	if err != nil || p.Revocation == provider.RevokeNone {
		return false
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), revokeTimeout)
	defer cancel()
	err = s.revokeTokens(ctx, p, c)
	outcome, meta := store.OutcomeSuccess, map[string]any{"platform": c.Platform}
	if err != nil {
		s.logger.WarnContext(ctx, "revocation at the platform failed", "platform", c.Platform, "connection", c.ID, "error", err.Error())
		outcome, meta["error_code"] = store.OutcomeFailure, "revocation_failed"
	}
	if _, aerr := s.d.Audit.Record(ctx, audit.Event{Actor: actor, OrgID: c.OrgID, Action: "credential.revoke_at_provider",
		Target: c.ID, Outcome: outcome, Network: s.network(r), Metadata: meta}); aerr != nil {
		s.logger.WarnContext(ctx, "audit of a platform revocation failed", "error", aerr.Error())
	}
	return err == nil
}

// revokeTokens opens c's tokens and calls the platform's revocation.
func (s *server) revokeTokens(ctx context.Context, p *provider.Provider, c store.Connection) error {
	if c.AccessToken == nil {
		return errors.New("no stored token to revoke")
	}
	at, err := s.d.Keyring.Open(ctx, envelope.PurposeCredential, broker.Binding(c.OrgID, c.ID, broker.FieldAccessToken), c.AccessToken)
	if err != nil {
		return fmt.Errorf("open access token: %w", err)
	}
	defer clear(at)
	var rt []byte
	if c.RefreshToken != nil {
		if rt, err = s.d.Keyring.Open(ctx, envelope.PurposeCredential, broker.Binding(c.OrgID, c.ID, broker.FieldRefreshToken), c.RefreshToken); err != nil {
			return fmt.Errorf("open refresh token: %w", err)
		}
		defer clear(rt)
	}
	return p.Revoke(ctx, s.client, c.Account, string(at), string(rt))
}
