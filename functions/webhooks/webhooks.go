// Package webhooks is the Webhooks HTTP function: verified Stripe, Shopify and Standard Webhooks receivers.
// Locally it is mounted by `gatehouse serve`; on Cloud Run the Functions
// Framework serves the entry point registered in init.
//
// Every receiver reads a bounded raw body, verifies the provider's signature
// before anything else (failing closed: a rejection writes only its audit
// event), then claims the provider's event id and applies the event, audits
// it and writes its outbox message in one transaction; the message is
// published to Pub/Sub after the commit.
package webhooks

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/audit"
	"github.com/gatehouse-dev/gatehouse/shared/authz"
	"github.com/gatehouse-dev/gatehouse/shared/bootstrap"
	"github.com/gatehouse-dev/gatehouse/shared/config"
	"github.com/gatehouse-dev/gatehouse/shared/outbox"
	"github.com/gatehouse-dev/gatehouse/shared/session"
	"github.com/gatehouse-dev/gatehouse/shared/token"
	"github.com/gatehouse-dev/gatehouse/shared/web"
)

func init() {
	bootstrap.HTTP("Webhooks", func(d *bootstrap.Deps, l *config.Loader) (http.Handler, error) {
		return New(d, LoadConfig(l))
	})
}

// handlers serves the routes.
type handlers struct {
	d               *bootstrap.Deps
	cfg             Config
	relay           *outbox.Relay
	standardSources map[string]*standardVerifier
	rejections      *audit.Sampler // nil, or bounds webhook.rejected events per provider, network and reason
}

// New returns the function's handler. Routes are relative to the
// function's URL.
func New(d *bootstrap.Deps, cfg Config) (http.Handler, error) {
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = defaultMaxBody
	}
	if cfg.ShopifyMaxAge <= 0 {
		cfg.ShopifyMaxAge = defaultShopifyMaxAge
	}
	h := &handlers{d: d, cfg: cfg, standardSources: map[string]*standardVerifier{}}
	if cfg.RejectionAuditPerMinute > 0 {
		h.rejections = audit.NewSampler(cfg.RejectionAuditPerMinute, time.Minute, d.Now)
	}
	for name, secrets := range cfg.StandardSources {
		v, err := newStandardVerifier(secrets)
		if err != nil {
			return nil, fmt.Errorf("standard webhook source %s: %w", name, err)
		}
		h.standardSources[name] = v
	}
	sender, err := newSender(cfg)
	if err != nil {
		return nil, err
	}
	h.relay = outbox.NewRelay(d.Store, sender, d.Logger, outbox.Options{Now: d.Now})

	sessions, err := newSessions(d)
	if err != nil {
		return nil, err
	}

	mux := http.NewServeMux()
	mux.Handle("GET /healthz", d.Health())
	mux.Handle("POST /stripe", web.Handler(d.Logger, h.stripe))
	mux.Handle("POST /shopify", web.Handler(d.Logger, h.shopify))
	mux.Handle("POST /standard/{source}", web.Handler(d.Logger, h.standard))
	// Billing state is the owner's alone (billing.manage is owner-only).
	mux.Handle("GET /billing", sessions.Authenticate(authz.New(d).Require(authz.PermBillingManage, authz.OrgFromQuery("org"))(
		web.Handler(d.Logger, h.getBilling(authorizedOrg)))))
	return d.Wrap(mux)
}

// authorizedOrg is the organization the authz middleware checked.
func authorizedOrg(r *http.Request) string {
	m, _ := authz.MemberFrom(r.Context())
	return m.OrgID
}

// newSessions opens the auth function's session manager over the same
// signing keys, so its access tokens and cookies are accepted here.
func newSessions(d *bootstrap.Deps) (*session.Manager, error) {
	signer, err := token.NewSigner(context.Background(), d.Store, d.Keyring,
		token.Options{Issuer: d.Config.PublicURL.String(), Now: d.Now, Rand: d.Rand, VerifyOnly: true})
	if err != nil {
		return nil, fmt.Errorf("open token signer: %w", err)
	}
	return session.New(d, signer, session.Config{AllowedOrigins: d.Config.AllowedOrigins,
		TrustedProxyHops: d.Config.TrustedProxyHops})
}

// newSender returns cfg.Sender, or a Pub/Sub sender when a topic is
// configured, or nil (messages stay in the outbox) when none is.
func newSender(cfg Config) (outbox.Sender, error) {
	switch {
	case cfg.Sender != nil:
		return cfg.Sender, nil
	case cfg.BillingTopic == "" && cfg.EventTopic == "":
		return nil, nil
	}
	project := cfg.ProjectID
	if project == "" {
		project = topicProject(cfg.BillingTopic + cfg.EventTopic)
	}
	p, err := outbox.NewPubSub(context.Background(), project)
	if err != nil {
		return nil, fmt.Errorf("webhook events publisher: %w", err)
	}
	return p, nil
}

// topicProject returns P of a projects/P/topics/T name, "" for anything else.
func topicProject(topic string) string {
	parts := strings.SplitN(topic, "/", 4)
	if len(parts) < 4 || parts[0] != "projects" {
		return ""
	}
	return parts[1]
}
