package broker_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/gatehouse-dev/gatehouse/shared/bootstrap/bootstraptest"
	"github.com/gatehouse-dev/gatehouse/shared/broker"
	"github.com/gatehouse-dev/gatehouse/shared/logging"
	"github.com/gatehouse-dev/gatehouse/shared/oauthtest"
	"github.com/gatehouse-dev/gatehouse/shared/outbound"
	"github.com/gatehouse-dev/gatehouse/shared/outbound/outboundtest"
	"github.com/gatehouse-dev/gatehouse/shared/provider"
	"github.com/gatehouse-dev/gatehouse/shared/store"
)

const (
	org      = "org-a"
	redirect = "https://gatehouse.example.com/oauth/callback/google_ads"
)

type fixture struct {
	env    *bootstraptest.Env
	srv    *oauthtest.Server
	reg    *provider.Registry
	client *outbound.Client
}

func newFixture(t testing.TB, s store.Store, opts oauthtest.Options) *fixture {
	t.Helper()
	env := bootstraptest.New(t, s)
	opts.Now = env.Clock.Now
	srv := oauthtest.New(t, opts)
	srv.AddClient("client-1", "client-secret-1", redirect)
	env.Logs.Plant("client-secret-1")
	reg, err := provider.NewRegistry(provider.Builtin(), map[string]provider.Settings{provider.GoogleAds: {
		ClientID: "client-1", ClientSecret: logging.NewSecret("client-secret-1"),
		AuthURL: srv.AuthURL(), TokenURL: srv.TokenURL(), RevokeURL: srv.RevokeURL()}})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{env: env, srv: srv, reg: reg, client: outboundtest.Client(t, srv.Server)}
}

func (f *fixture) broker(sealer broker.Sealer) *broker.Broker {
	if sealer == nil {
		sealer = f.env.Keyring
	}
	return broker.New(f.env.Store, sealer, f.reg, f.env.Audit, f.env.Logger,
		broker.Options{Client: f.client, Now: f.env.Clock.Now, Events: f.env.Events})
}

// connect runs a real authorization code flow against the server and stores
// the sealed result as connection id.
func (f *fixture) connect(t testing.TB, id string) *oauth2.Token {
	t.Helper()
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, f.srv.Client())
	p, _ := f.reg.Lookup(provider.GoogleAds)
	cfg, _ := p.Config(redirect, "")
	verifier := oauth2.GenerateVerifier()
	c := f.srv.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Get(p.AuthCodeURL(cfg, "state", verifier))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	tok, err := cfg.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	f.env.Logs.Plant(tok.AccessToken, tok.RefreshToken)
	now := f.env.Clock.Now()
	toks, err := broker.SealTokens(ctx, f.env.Keyring, org, id, tok, now)
	if err != nil {
		t.Fatal(err)
	}
	err = f.env.Store.CreateConnection(ctx, store.Connection{ID: id, OrgID: org, Platform: provider.GoogleAds,
		Scopes: p.GrantedScopes(tok), Status: store.ConnectionActive, AccessToken: toks.AccessToken,
		RefreshToken: toks.RefreshToken, TokenType: toks.TokenType, ExpiresAt: toks.ExpiresAt, CreatedBy: "user-1", CreatedAt: now})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// expire moves the clock to within the refresh skew of the token's expiry.
func (f *fixture) expire() { f.env.Clock.Advance(time.Hour - broker.Skew + time.Second) }

func (f *fixture) conn(t testing.TB, id string) store.Connection {
	t.Helper()
	c, err := f.env.Store.Connection(context.Background(), org, id)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// auditActions returns the actions of every audit event.
func (f *fixture) auditActions(t testing.TB) []string {
	t.Helper()
	evs, err := f.env.Store.AuditEvents(context.Background(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range evs {
		out = append(out, e.Action)
	}
	return out
}
