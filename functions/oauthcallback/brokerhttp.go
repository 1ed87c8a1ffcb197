package oauthcallback

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"google.golang.org/api/idtoken"
	"google.golang.org/api/option"

	"github.com/gatehouse-dev/gatehouse/shared/broker"
	"github.com/gatehouse-dev/gatehouse/shared/logging"
	"github.com/gatehouse-dev/gatehouse/shared/outbound"
	"github.com/gatehouse-dev/gatehouse/shared/store"
	"github.com/gatehouse-dev/gatehouse/shared/web"
)

// callerAuth authenticates the SaaS's backend services at the broker:
// with a Google-signed ID token for the configured audience from an
// allowlisted service account (production), or with a shared secret (dev).
// With neither configured, every call is refused.
type callerAuth struct {
	secret   logging.Secret
	audience string
	accounts []string // lower-case service-account e-mails
	validate func(ctx context.Context, tok, audience string) (*idtoken.Payload, error)
}

// newCallerAuth fetches Google's ID-token keys through client.
func newCallerAuth(cfg Config, client *outbound.Client) (*callerAuth, error) {
	v, err := idtoken.NewValidator(context.Background(), option.WithHTTPClient(client.HTTP()))
	if err != nil {
		return nil, fmt.Errorf("id token validator: %w", err)
	}
	a := &callerAuth{secret: cfg.BrokerSecret, audience: cfg.BrokerAudience, validate: v.Validate}
	for _, sa := range cfg.BrokerServiceAccounts {
		a.accounts = append(a.accounts, strings.ToLower(sa))
	}
	return a, nil
}

var errBrokerAuth = web.Unauthorized("unauthenticated", "A valid service credential is required.")

// authenticate returns the calling service's identity.
func (a *callerAuth) authenticate(r *http.Request) (string, error) {
	h := r.Header.Values("Authorization")
	scheme, tok, ok := strings.Cut(strings.Join(h, ""), " ")
	if len(h) != 1 || !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return "", errBrokerAuth.WithCause(errors.New("no single bearer credential"))
	}
	switch {
	case a.audience != "":
		return a.serviceAccount(r.Context(), tok)
	case !a.secret.IsZero():
		if subtle.ConstantTimeCompare([]byte(tok), []byte(a.secret.Reveal())) != 1 {
			return "", errBrokerAuth.WithCause(errors.New("shared secret mismatch"))
		}
		return "shared-secret", nil
	default:
		return "", errBrokerAuth.WithCause(errors.New("broker authentication is not configured"))
	}
}

// serviceAccount validates a Google ID token (signature, issuer, audience,
// expiry) and requires a verified e-mail on the allowlist.
func (a *callerAuth) serviceAccount(ctx context.Context, tok string) (string, error) {
	p, err := a.validate(ctx, tok, a.audience)
	if err != nil {
		return "", errBrokerAuth.WithCause(fmt.Errorf("validate id token: %w", err))
	}
	email, _ := p.Claims["email"].(string)
	verified, _ := p.Claims["email_verified"].(bool)
	if !verified || !slices.Contains(a.accounts, strings.ToLower(email)) {
		return "", web.Forbidden().WithCause(fmt.Errorf("service account %q is not allowed", email))
	}
	return strings.ToLower(email), nil
}

type tokenRequest struct {
	OrgID        string `json:"org_id"`
	ConnectionID string `json:"connection_id"`
}

type tokenResponse struct {
	AccessToken string     `json:"access_token"`
	TokenType   string     `json:"token_type"`
	ExpiresAt   *time.Time `json:"expires_at"`
	Platform    string     `json:"platform"`
	Account     string     `json:"account"`
}

// token answers POST /internal/token {"org_id","connection_id"} with a
// usable access token for the connection (CRED-7).
func (s *server) token(w http.ResponseWriter, r *http.Request) error {
	caller, err := s.callers.authenticate(r)
	if err != nil {
		return err
	}
	var req tokenRequest
	if err := web.DecodeJSON(r, &req); err != nil {
		return err
	}
	v := web.NewValidator()
	v.Length("org_id", req.OrgID, 1, 128)
	v.Length("connection_id", req.ConnectionID, 1, 128)
	if err := v.Err(); err != nil {
		return err
	}
	tok, err := s.broker.Token(r.Context(), req.OrgID, req.ConnectionID)
	if err != nil {
		return brokerError(err, caller)
	}
	resp := tokenResponse{AccessToken: tok.AccessToken.Reveal(), TokenType: tok.TokenType, Platform: tok.Platform, Account: tok.Account}
	if !tok.ExpiresAt.IsZero() {
		resp.ExpiresAt = &tok.ExpiresAt
	}
	return web.WriteTokenJSON(w, http.StatusOK, resp)
}

// brokerError maps a broker failure to the response.
func brokerError(err error, caller string) error {
	cause := fmt.Errorf("token for %s: %w", caller, err)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return web.NotFound().WithCause(cause)
	case errors.Is(err, broker.ErrRevoked):
		return web.Conflict("connection_revoked", "The connection was disconnected.").WithCause(cause)
	case errors.Is(err, broker.ErrInvalid):
		return web.Conflict("reauthorization_required", "The connection must be authorized again.").WithCause(cause)
	default:
		return web.Unavailable(cause)
	}
}
