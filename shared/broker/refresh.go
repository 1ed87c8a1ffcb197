package broker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"golang.org/x/oauth2"

	"github.com/gatehouse-dev/gatehouse/shared/audit"
	"github.com/gatehouse-dev/gatehouse/shared/envelope"
	"github.com/gatehouse-dev/gatehouse/shared/logging"
	"github.com/gatehouse-dev/gatehouse/shared/provider"
	"github.com/gatehouse-dev/gatehouse/shared/store"
)

// outcome is what the locked part of a refresh decided.
type outcome struct {
	err   error            // ErrInvalid, ErrRevoked, ErrUnavailable
	conn  store.Connection // use this row's access token (fresh, or still valid)
	token *oauth2.Token    // the refreshed token, stored
}

// refresh refreshes c0's access token under the connection's row lock.
//
// Everything that could need a database connection of its own (opening the
// refresh token, the keyring's primary key) happens before the lock is
// taken, so callers queued on the lock, each holding a pooled connection,
// cannot starve the one refreshing.
func (b *Broker) refresh(ctx context.Context, c0 store.Connection) (Token, error) {
	p, err := b.registry.Lookup(c0.Platform)
	if err != nil {
		return b.stillValid(ctx, c0, fmt.Errorf("%w: %w", ErrUnavailable, err))
	}
	if c0.RefreshToken == nil {
		return b.noRefreshToken(ctx, c0)
	}
	rt, err := openToken(ctx, b.sealer, c0, FieldRefreshToken, c0.RefreshToken)
	if err != nil {
		return Token{}, b.openFailed(ctx, c0, err)
	}
	if _, err := b.sealer.Seal(ctx, envelope.PurposeCredential, Binding(c0.OrgID, c0.ID, "warm-up"), nil); err != nil {
		return Token{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	var fetched *oauth2.Token // asked of the platform at most once, even if Tx runs fn again
	var out outcome
	err = b.store.Tx(ctx, func(tx store.Store) error {
		out = outcome{}
		return b.refreshLocked(ctx, tx, p, c0, rt, &fetched, &out)
	})
	switch {
	case err != nil:
		return Token{}, fmt.Errorf("%w: refresh %s: %w", ErrUnavailable, c0.ID, err)
	case errors.Is(out.err, ErrUnavailable):
		return b.stillValid(ctx, out.conn, out.err)
	case out.err != nil:
		return Token{}, out.err
	case out.token != nil:
		return Token{AccessToken: logging.NewSecret(out.token.AccessToken), TokenType: out.token.Type(),
			ExpiresAt: ExpiresAt(out.token, b.now()), Platform: c0.Platform, Account: c0.Account}, nil
	default:
		return b.open(ctx, out.conn)
	}
}

// refreshLocked locks and re-reads the connection, then refreshes it unless
// another caller already did.
func (b *Broker) refreshLocked(ctx context.Context, tx store.Store, p *provider.Provider, c0 store.Connection,
	rt string, fetched **oauth2.Token, out *outcome) error {
	c, err := tx.LockConnection(ctx, c0.OrgID, c0.ID)
	if err != nil {
		return err
	}
	if out.err = usable(c); out.err != nil {
		return nil
	}
	if b.fresh(c) {
		out.conn = c // refreshed by another caller while we waited
		return nil
	}
	if !bytes.Equal(c.RefreshToken, c0.RefreshToken) {
		out.conn, out.err = c, fmt.Errorf("%w: refresh token changed under the lock", ErrUnavailable)
		return nil
	}
	if *fetched == nil {
		tok, err := b.fetch(ctx, p, c, rt)
		switch {
		case isInvalidGrant(err):
			out.err = ErrInvalid
			return b.invalidate(ctx, tx, c, "invalid_grant")
		case err != nil:
			b.logger.WarnContext(ctx, "token refresh failed", "platform", c.Platform, "connection", c.ID, "error", err.Error())
			out.conn, out.err = c, fmt.Errorf("%w: %w", ErrUnavailable, err)
			return nil
		}
		*fetched = tok
	}
	return b.save(ctx, tx, c, rt, *fetched, out)
}

// save seals and stores a refreshed token and audits the refresh.
func (b *Broker) save(ctx context.Context, tx store.Store, c store.Connection, rt string, tok *oauth2.Token, out *outcome) error {
	toks, err := SealTokens(ctx, b.sealer, c.OrgID, c.ID, tok, b.now())
	if err != nil {
		return err
	}
	rotated := tok.RefreshToken != "" && tok.RefreshToken != rt
	if !rotated {
		toks.RefreshToken = nil // the platform returned none (or the same): keep the stored one
	}
	if err := tx.UpdateConnectionTokens(ctx, c.OrgID, c.ID, toks, b.now()); err != nil {
		return err
	}
	if _, err := b.audit.RecordTx(ctx, tx, audit.Event{Actor: "system", OrgID: c.OrgID, Action: "credential.refresh",
		Target: c.ID, Metadata: map[string]any{"platform": c.Platform, "rotated": rotated}}); err != nil {
		return err
	}
	out.token = tok
	return nil
}

// fetch asks the platform for a new access token. Errors never carry the
// response body, which may echo what was sent.
func (b *Broker) fetch(ctx context.Context, p *provider.Provider, c store.Connection, rt string) (*oauth2.Token, error) {
	tok, err := b.fetchToken(ctx, p, c, rt)
	outcome := "success"
	if err != nil {
		outcome = "failure"
	}
	b.metrics.BrokerRefresh(ctx, c.Platform, outcome)
	return tok, err
}

func (b *Broker) fetchToken(ctx context.Context, p *provider.Provider, c store.Connection, rt string) (*oauth2.Token, error) {
	cfg, err := p.Config("", c.Account)
	if err != nil {
		return nil, err
	}
	ctx = b.client.Context(ctx)
	tok, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: rt}).Token()
	if err != nil {
		return nil, describe(err)
	}
	if tok.AccessToken == "" {
		return nil, errors.New("token response without an access token")
	}
	return tok, nil
}

// refusedError is a token-endpoint refusal, without the response body.
type refusedError struct {
	status int
	code   string
}

func (e *refusedError) Error() string {
	return fmt.Sprintf("token endpoint answered %d %s", e.status, e.code)
}

// describe replaces an x/oauth2 error with one that names only the
// status and OAuth error code.
func describe(err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		status := 0
		if re.Response != nil {
			status = re.Response.StatusCode
		}
		return &refusedError{status: status, code: re.ErrorCode}
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("token endpoint unreachable: %s: %w", ue.Op, ue.Err)
	}
	return fmt.Errorf("token endpoint: %w", err)
}

func isInvalidGrant(err error) bool {
	var re *refusedError
	return errors.As(err, &re) && re.code == "invalid_grant" && re.status != http.StatusServiceUnavailable
}

// noRefreshToken handles a platform that issued no refresh token: the
// token is used until it expires, then the connection needs
// re-authorization.
func (b *Broker) noRefreshToken(ctx context.Context, c store.Connection) (Token, error) {
	if c.ExpiresAt.After(b.now()) {
		return b.open(ctx, c)
	}
	err := b.store.Tx(ctx, func(tx store.Store) error { return b.invalidate(ctx, tx, c, "expired") })
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return Token{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return Token{}, ErrInvalid
}

// stillValid returns c's token if it has not expired yet, else failure.
func (b *Broker) stillValid(ctx context.Context, c store.Connection, failure error) (Token, error) {
	if c.ExpiresAt.After(b.now()) {
		return b.open(ctx, c)
	}
	return Token{}, failure
}
