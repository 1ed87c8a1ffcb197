package session

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/gatehouse-dev/gatehouse/shared/audit"
	"github.com/gatehouse-dev/gatehouse/shared/store"
	"github.com/gatehouse-dev/gatehouse/shared/web"
)

// purposeMFA is the one-time-token purpose of an MFA hand-off.
const purposeMFA = "mfa_login"

var errInvalidMFAToken = web.Unauthorized("invalid_mfa_token", "The sign-in step expired or is invalid; sign in again.")

// MFAGrant is what a consumed MFA token proves: the user passed the first
// factor (Methods, e.g. ["pwd"] or ["email"]) within the token's lifetime.
// SSOOrg is the organization whose single sign-on the first factor was
// ("" for any other): pass it to [Manager.CompleteSSO].
type MFAGrant struct {
	UserID  string
	Methods []string
	SSOOrg  string
}

type mfaData struct {
	Methods []string `json:"methods"`
	SSOOrg  string   `json:"sso_org,omitempty"`
}

// IssueMFAToken returns a single-use token that proves userID passed the
// first factor methods, valid for the MFA token TTL (5 minutes by
// default). Only its SHA-256 is stored.
func (m *Manager) IssueMFAToken(ctx context.Context, userID string, methods []string) (string, error) {
	return m.IssueSSOMFAToken(ctx, userID, methods, "")
}

// IssueSSOMFAToken is [Manager.IssueMFAToken] for a first factor that was
// organization ssoOrg's single sign-on: the grant carries it to the
// session the second factor starts.
func (m *Manager) IssueSSOMFAToken(ctx context.Context, userID string, methods []string, ssoOrg string) (string, error) {
	tok, err := m.randomID(32)
	if err != nil {
		return "", err
	}
	data, err := json.Marshal(mfaData{Methods: methods, SSOOrg: ssoOrg})
	if err != nil {
		return "", fmt.Errorf("encode mfa token data: %w", err)
	}
	now := m.now()
	err = m.store.CreateOneTimeToken(ctx, store.OneTimeToken{Hash: sha256.Sum256([]byte(tok)), Purpose: purposeMFA,
		Subject: userID, Data: string(data), CreatedAt: now, ExpiresAt: now.Add(m.cfg.MFATokenTTL)})
	if err != nil {
		return "", fmt.Errorf("store mfa token: %w", err)
	}
	return tok, nil
}

// ConsumeMFA spends an MFA token: of concurrent calls with one token,
// exactly one succeeds. It returns a *web.Error: 401 invalid_mfa_token for
// an unknown, used or expired token, 503 if the store cannot answer.
// Call [Manager.BeginSecondFactor] first, so that a request refused by a
// check (Origin, limits, lockout) leaves the token usable (AUTH-15), and
// pass append(grant.Methods, "otp") (or "hwk", "rc") to [Manager.Complete]
// on success ([Manager.CompleteSSO] with the grant's SSOOrg).
func (m *Manager) ConsumeMFA(ctx context.Context, tok string) (MFAGrant, error) {
	return m.mfaGrant(tok, func(hash [32]byte) (store.OneTimeToken, error) {
		return m.store.ConsumeOneTimeToken(ctx, purposeMFA, hash, m.now())
	})
}

// PeekMFA returns what an MFA token proves without spending it, with the
// errors of [Manager.ConsumeMFA].
func (m *Manager) PeekMFA(ctx context.Context, tok string) (MFAGrant, error) {
	return m.mfaGrant(tok, func(hash [32]byte) (store.OneTimeToken, error) {
		return m.store.OneTimeToken(ctx, purposeMFA, hash, m.now())
	})
}

// BeginSecondFactor runs every check of a second sign-in step before
// anything single-use is spent (AUTH-15): the client checks of
// [Manager.CheckClient], the MFA token's validity (not spending it), and
// [Manager.GuardSecondFactor]'s limits and lockout for its user. Then spend
// the token with [Manager.ConsumeMFA] and check the factor.
func (m *Manager) BeginSecondFactor(ctx context.Context, r *http.Request, tok string) (MFAGrant, error) {
	if err := m.CheckClient(r); err != nil {
		return MFAGrant{}, err
	}
	g, err := m.PeekMFA(ctx, tok)
	if err != nil {
		return g, err
	}
	return g, m.GuardSecondFactor(ctx, r, g.UserID)
}

func (m *Manager) mfaGrant(tok string, read func(hash [32]byte) (store.OneTimeToken, error)) (MFAGrant, error) {
	if b, err := base64.RawURLEncoding.Strict().DecodeString(tok); err != nil || len(b) != 32 {
		return MFAGrant{}, errInvalidMFAToken.WithCause(errors.New("malformed mfa token"))
	}
	t, err := read(sha256.Sum256([]byte(tok)))
	switch {
	case errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrUsed) || errors.Is(err, store.ErrExpired):
		return MFAGrant{}, errInvalidMFAToken.WithCause(err)
	case err != nil:
		return MFAGrant{}, web.Unavailable(err)
	}
	var d mfaData
	if err := json.Unmarshal([]byte(t.Data), &d); err != nil {
		return MFAGrant{}, fmt.Errorf("decode mfa token data: %w", err)
	}
	return MFAGrant{UserID: t.Subject, Methods: d.Methods, SSOOrg: d.SSOOrg}, nil
}

// ConsumeMFAToken is [Manager.ConsumeMFA] returning only the user id.
func (m *Manager) ConsumeMFAToken(ctx context.Context, tok string) (string, error) {
	g, err := m.ConsumeMFA(ctx, tok)
	return g.UserID, err
}

// Reauthenticated records that the user of p proved who they are again
// with methods just now (step-up), so [Manager.RequireRecentAuth] passes for
// the step-up window. The session keeps the higher of its old and new
// authentication levels.
func (m *Manager) Reauthenticated(ctx context.Context, p Principal, methods []string) error {
	lvl := max(p.Level, level(methods))
	err := m.store.Tx(ctx, func(tx store.Store) error {
		if err := tx.SetSessionAuth(ctx, p.SessionID, methods, lvl, m.now()); err != nil {
			return err
		}
		_, err := m.audit.RecordTx(ctx, tx, audit.Event{Actor: p.UserID, Action: "auth.reauthenticate",
			Target: p.UserID, Metadata: map[string]any{"session": p.SessionID, "methods": methods}})
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return errInvalidToken.WithCause(err)
	}
	if err != nil {
		return web.Unavailable(err)
	}
	return nil
}
