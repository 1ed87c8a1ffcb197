package oauthcallback

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"golang.org/x/oauth2"

	"github.com/gatehouse-dev/gatehouse/shared/audit"
	"github.com/gatehouse-dev/gatehouse/shared/authz"
	"github.com/gatehouse-dev/gatehouse/shared/broker"
	"github.com/gatehouse-dev/gatehouse/shared/events"
	"github.com/gatehouse-dev/gatehouse/shared/oauthstate"
	"github.com/gatehouse-dev/gatehouse/shared/provider"
	"github.com/gatehouse-dev/gatehouse/shared/store"
	"github.com/gatehouse-dev/gatehouse/shared/web"
)

// newConnectionID returns "con_" and 16 random bytes in hex.
func (s *server) newConnectionID() (string, error) {
	var b [16]byte
	if _, err := io.ReadFull(s.d.Rand, b[:]); err != nil {
		return "", fmt.Errorf("read connection id randomness: %w", err)
	}
	return "con_" + hex.EncodeToString(b[:]), nil
}

// save stores tok as the organization's connection for the platform and
// account: the existing live one gets the new tokens (re-authorization,
// which also revives an INVALID one), else a new connection is created.
// Tokens are sealed before the transaction; the write and its audit event
// commit together.
func (s *server) save(ctx context.Context, r *http.Request, p *provider.Provider, st oauthstate.State, tok *oauth2.Token) (string, error) {
	account := st.Label
	if p.PerShop {
		account = st.Shop
	}
	if p.UserinfoURL != "" {
		var err error
		if account, err = provider.Account(ctx, s.client, p, tok); err != nil {
			return "", fail("userinfo_failed", err)
		}
	}
	existing, err := s.d.Store.CurrentConnection(ctx, st.OrgID, p.Name, account)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return "", fail("unavailable", err)
	}
	id := existing.ID
	if id == "" {
		if id, err = s.newConnectionID(); err != nil {
			return "", fail("server_error", err)
		}
	}
	now := s.d.Now()
	toks, err := broker.SealTokens(ctx, s.d.Keyring, st.OrgID, id, tok, now)
	if err != nil {
		return "", fail("unavailable", err)
	}
	toks.Scopes = p.GrantedScopes(tok)
	err = s.d.Store.Tx(ctx, func(tx store.Store) error {
		var err error
		if existing.ID != "" {
			err = tx.UpdateConnectionTokens(ctx, st.OrgID, id, toks, now)
		} else {
			err = tx.CreateConnection(ctx, store.Connection{ID: id, OrgID: st.OrgID, Platform: p.Name, Account: account,
				Scopes: toks.Scopes, Status: store.ConnectionActive, AccessToken: toks.AccessToken, RefreshToken: toks.RefreshToken,
				TokenType: toks.TokenType, ExpiresAt: toks.ExpiresAt, CreatedBy: st.UserID, CreatedAt: now})
		}
		if err != nil {
			return err
		}
		_, err = s.d.Audit.RecordTx(ctx, tx, audit.Event{Actor: st.UserID, OrgID: st.OrgID, Action: "credential.connect",
			Target: id, Network: s.network(r), Metadata: map[string]any{"platform": st.Platform, "reauthorized": existing.ID != ""}})
		if err != nil {
			return err
		}
		return s.d.Events.Emit(ctx, tx, events.Connection(events.ConnectionCreated,
			events.ConnectionData{ConnectionID: id, UserID: st.UserID, OrgID: st.OrgID, Provider: p.Name}))
	})
	switch {
	case errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrNotFound):
		return "", fail("account_in_use", err)
	case err != nil:
		return "", fail("unavailable", err)
	}
	return id, nil
}

// connectionJSON is a connection as listed: never a token.
type connectionJSON struct {
	ID            string     `json:"id"`
	Platform      string     `json:"platform"`
	Account       string     `json:"account"`
	Scopes        []string   `json:"scopes"`
	Status        string     `json:"status"`
	StatusReason  string     `json:"status_reason,omitempty"`
	CreatedAt     time.Time  `json:"created_at"`
	LastRefreshed *time.Time `json:"last_refreshed_at"`
}

func toJSON(c store.Connection) connectionJSON {
	j := connectionJSON{ID: c.ID, Platform: c.Platform, Account: c.Account, Scopes: c.Scopes, Status: string(c.Status),
		StatusReason: c.StatusReason, CreatedAt: c.CreatedAt}
	if j.Scopes == nil {
		j.Scopes = []string{}
	}
	if !c.RefreshedAt.IsZero() {
		j.LastRefreshed = &c.RefreshedAt
	}
	return j
}

// internalList answers GET /internal/connections?org_id=: the broker's
// service-authenticated list of an organization's connections (never a
// token), so a job can find the connection id it asks POST /internal/token
// for without a browser session.
func (s *server) internalList(w http.ResponseWriter, r *http.Request) error {
	caller, err := s.callers.authenticate(r)
	if err != nil {
		return err
	}
	q, err := strictQuery(r.URL.Query(), "org_id")
	if err != nil {
		return err
	}
	org := q["org_id"]
	v := web.NewValidator()
	v.Length("org_id", org, 1, 128)
	if err := v.Err(); err != nil {
		return err
	}
	conns, err := s.d.Store.ListConnections(r.Context(), org)
	if err != nil {
		return web.Unavailable(fmt.Errorf("list connections for %s: %w", caller, err))
	}
	out := make([]connectionJSON, 0, len(conns))
	for _, c := range conns {
		out = append(out, toJSON(c))
	}
	return web.WriteJSON(w, http.StatusOK, map[string]any{"org_id": org, "connections": out})
}

// list answers GET /connections?org=: the organization's connections.
func (s *server) list(w http.ResponseWriter, r *http.Request) error {
	if _, err := strictQuery(r.URL.Query(), "org"); err != nil {
		return err
	}
	m, _ := authz.MemberFrom(r.Context())
	conns, err := s.d.Store.ListConnections(r.Context(), m.OrgID)
	if err != nil {
		return web.Unavailable(err)
	}
	out := make([]connectionJSON, 0, len(conns))
	for _, c := range conns {
		out = append(out, toJSON(c))
	}
	return web.WriteJSON(w, http.StatusOK, map[string]any{"connections": out})
}
