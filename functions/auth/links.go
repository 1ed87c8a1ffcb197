package auth

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/audit"
	"github.com/gatehouse-dev/gatehouse/shared/notify"
	"github.com/gatehouse-dev/gatehouse/shared/ratelimit"
	"github.com/gatehouse-dev/gatehouse/shared/store"
	"github.com/gatehouse-dev/gatehouse/shared/web"
)

// One-time-token purposes of the core routes.
const (
	purposeSignup    = "signup_confirm"
	purposeReset     = "password_reset"
	purposeMagicLink = "magic_link"
)

// errInvalidLink is the one answer for an unknown, used or expired link.
var errInvalidLink = web.BadRequest("invalid_token", "The link is invalid or has expired.")

// emailField validates the "email" field and returns it in the form
// addresses are stored and compared in: trimmed and lower-cased.
func emailField(v *web.Validator, raw string) string {
	email := strings.ToLower(strings.TrimSpace(raw))
	v.Email("email", email)
	return email
}

// newLinkToken stores a one-time token for purpose and subject, valid for
// ttl, and returns the secret (32 random bytes, base64url). Only its
// SHA-256 is stored. The new link supersedes the subject's unused links of
// the purpose: only the newest one works (AUTH-15).
func (s *Server) newLinkToken(ctx context.Context, purpose, subject, data string, ttl time.Duration) (string, error) {
	var b [32]byte
	if _, err := io.ReadFull(s.d.Rand, b[:]); err != nil {
		return "", fmt.Errorf("read token randomness: %w", err)
	}
	tok := base64.RawURLEncoding.EncodeToString(b[:])
	now := s.d.Now()
	err := s.d.Store.SupersedeOneTimeTokens(ctx, store.OneTimeToken{Hash: sha256.Sum256([]byte(tok)), Purpose: purpose,
		Subject: subject, Data: data, CreatedAt: now, ExpiresAt: now.Add(ttl)})
	if err != nil {
		return "", fmt.Errorf("store %s token: %w", purpose, err)
	}
	return tok, nil
}

// consumeLinkToken spends a one-time token through st (a store or a
// transaction). It returns errInvalidLink for an unknown, used, expired or
// malformed token, a 503 for a store failure.
func consumeLinkToken(ctx context.Context, st store.Store, purpose, tok string, now time.Time) (store.OneTimeToken, error) {
	if b, err := base64.RawURLEncoding.Strict().DecodeString(tok); err != nil || len(b) != 32 {
		return store.OneTimeToken{}, errInvalidLink.WithCause(errors.New("malformed token"))
	}
	t, err := st.ConsumeOneTimeToken(ctx, purpose, sha256.Sum256([]byte(tok)), now)
	switch {
	case errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrUsed) || errors.Is(err, store.ErrExpired):
		return t, errInvalidLink.WithCause(err)
	case err != nil:
		return t, web.Unavailable(err)
	}
	return t, nil
}

// emailRequest is the body of the routes that e-mail an address.
type emailRequest struct {
	Email string `json:"email"`
}

// acceptEmailRequest serves a route that e-mails the address in the body
// without telling the client whether an account has it: it validates the
// address, spends the per-network limit network and the per-address limit
// account, answers 202 (see respondThenRun) and then runs send for the
// address. what names the route in the log.
func (s *Server) acceptEmailRequest(w http.ResponseWriter, r *http.Request, what string,
	network, account ratelimit.Limit, send func(ctx context.Context, email string) error) error {
	var req emailRequest
	if err := web.DecodeJSON(r, &req); err != nil {
		return err
	}
	v := web.NewValidator()
	email := emailField(v, req.Email)
	if err := v.Err(); err != nil {
		return err
	}
	if err := s.limit(r.Context(), ratelimit.Check{Limit: network, Key: s.network(r)},
		ratelimit.Check{Limit: account, Key: email}); err != nil {
		return err
	}
	return s.respondThenRun(w, r, what, func(ctx context.Context) error {
		return send(ctx, email)
	})
}

// mailAccountLink sends the account whose address is email a one-time link
// to page for purpose, valid for ttl; msg gives the message's kind, subject
// and text. An address no account has is sent nothing, and is no error.
func (s *Server) mailAccountLink(ctx context.Context, email, purpose, page string, ttl time.Duration, msg notify.Message) error {
	u, err := s.d.Store.UserByEmail(ctx, email)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	tok, err := s.newLinkToken(ctx, purpose, u.ID, "", ttl)
	if err != nil {
		return err
	}
	msg.To = u.Email
	msg.Links = []string{s.link(page, tok)}
	return s.d.Notifier.Notify(ctx, msg)
}

// decodeLinkRequest decodes r's body into req, a request that spends an
// e-mailed link; tok points at req's token field. It checks the token's
// size and whatever more check (if not nil) records, and then spends the
// per-network limit network.
func (s *Server) decodeLinkRequest(r *http.Request, req any, tok *string, network ratelimit.Limit,
	check func(v *web.Validator)) error {
	if err := web.DecodeJSON(r, req); err != nil {
		return err
	}
	v := web.NewValidator()
	v.Length("token", *tok, tokenLen, tokenLen)
	if check != nil {
		check(v)
	}
	if err := v.Err(); err != nil {
		return err
	}
	return s.limit(r.Context(), ratelimit.Check{Limit: network, Key: s.network(r)})
}

// link returns the URL of an app page carrying tok in the fragment, which
// browsers never send to a server or put in a Referer.
func (s *Server) link(page, tok string) string {
	u := *s.cfg.LinkBase
	u.Path = strings.TrimSuffix(u.Path, "/") + page
	u.RawQuery = ""
	u.Fragment = ""
	return u.String() + "#token=" + tok
}

// network returns the client network prefix of r ("" if unknown).
func (s *Server) network(r *http.Request) string {
	p := web.Network(web.ClientIP(r, s.d.Config.TrustedProxyHops))
	if !p.IsValid() {
		return ""
	}
	return p.String()
}

// limit applies checks in order and maps the answer to a response: 429
// with Retry-After, or 503 when the limiter cannot answer.
func (s *Server) limit(ctx context.Context, checks ...ratelimit.Check) error {
	return ratelimit.HTTPError(s.d.Limiter.AllowAll(ctx, checks...))
}

// record appends an audit event outside any transaction, logging (not
// failing on) an error: used after the change itself has committed.
func (s *Server) record(ctx context.Context, e audit.Event) {
	if _, err := s.d.Audit.Record(ctx, e); err != nil {
		s.d.Logger.ErrorContext(ctx, "audit event not recorded", "action", e.Action, "error", err.Error())
	}
}

// acceptedBody is written, byte for byte, for every address.
var acceptedBody = []byte(`{"status":"accepted"}` + "\n")

// respondThenRun writes the enumeration-safe 202 response, complete with
// its length, and flushes it, then runs work: the client has its answer
// before anything that depends on whether the address exists (a store
// write, a notification) happens, so timing tells it nothing. work runs on
// a context that outlives the client's disconnect; its error is logged.
func (s *Server) respondThenRun(w http.ResponseWriter, r *http.Request, what string, work func(context.Context) error) error {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(acceptedBody)))
	web.NoStore(w)
	w.WriteHeader(http.StatusAccepted)
	if _, err := w.Write(acceptedBody); err != nil {
		return nil // the client is gone; nothing was promised
	}
	_ = http.NewResponseController(w).Flush()
	ctx := context.WithoutCancel(r.Context())
	if err := work(ctx); err != nil {
		s.d.Logger.ErrorContext(ctx, what+" failed after the response", "route", r.Pattern, "error", err.Error())
	}
	return nil
}
