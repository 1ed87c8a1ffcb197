package webhooks

import (
	"encoding/base64"
	"regexp"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/config"
	"github.com/gatehouse-dev/gatehouse/shared/logging"
	"github.com/gatehouse-dev/gatehouse/shared/outbox"
)

// Configuration variables of the Webhooks function (see docs/webhooks.md).
const (
	varStripeSecrets   = "GATEHOUSE_STRIPE_WEBHOOK_SECRETS"
	varShopifySecret   = "GATEHOUSE_SHOPIFY_API_SECRET"
	varStandardSources = "GATEHOUSE_STANDARD_WEBHOOK_SOURCES"
	varStandardPrefix  = "GATEHOUSE_STANDARD_WEBHOOK_SECRET_" // + source name, upper case, '-' as '_'
	varMaxBody         = "GATEHOUSE_WEBHOOK_MAX_BODY"
	varBillingTopic    = "GATEHOUSE_BILLING_TOPIC"
	varEventTopic      = "GATEHOUSE_WEBHOOK_TOPIC"
	varShopifyMaxAge   = "GATEHOUSE_SHOPIFY_MAX_AGE"
	varRejectionAudit  = "GATEHOUSE_WEBHOOK_REJECTION_AUDIT_PER_MINUTE"
)

const (
	defaultMaxBody       = 64 << 10 // Stripe's own example limit
	defaultShopifyMaxAge = time.Hour
	maxMaxBody           = 1 << 20
)

// Config holds the function's own settings. A receiver with no secret
// rejects every delivery (fail closed) while the function still starts.
type Config struct {
	// StripeSecrets are the endpoint signing secrets (whsec_...); during a
	// secret roll there are two and either verifies.
	StripeSecrets []config.Secret
	// ShopifySecrets are the app's API secrets (usually one; two while the
	// secret is rotated).
	ShopifySecrets []config.Secret
	// StandardSources maps a source name, the {source} of
	// POST /standard/{source}, to its whsec_ signing secrets.
	StandardSources map[string][]config.Secret
	// MaxBody bounds a delivery's body in bytes.
	MaxBody int64
	// RejectionAuditPerMinute, if positive, samples the audit of rejected
	// deliveries: per provider, client network and reason, at most this many
	// webhook.rejected events a minute per instance, the next one counting
	// those skipped. Zero (the default) audits every rejection.
	RejectionAuditPerMinute int
	// ShopifyMaxAge is how old (by X-Shopify-Triggered-At) a Shopify
	// delivery may be and still be applied; older ones are recorded only.
	ShopifyMaxAge time.Duration
	// BillingTopic receives Stripe events, EventTopic Shopify and Standard
	// Webhooks events: full Pub/Sub topic names, "" to keep the messages in
	// the outbox unpublished (development).
	BillingTopic string
	EventTopic   string
	// ProjectID is the Pub/Sub project.
	ProjectID string
	// Sender, if set, publishes instead of a Pub/Sub client built for the
	// topics (tests, emulators). Not read from the environment.
	Sender outbox.Sender
}

var (
	sourceNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)
	topicIDRE    = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9._~+%-]{2,254}$`)
	topicNameRE  = regexp.MustCompile(`^projects/[a-z0-9.:-]{1,100}/topics/[A-Za-z][A-Za-z0-9._~+%-]{2,254}$`)
)

// LoadConfig reads the function's settings, recording problems in l.
func LoadConfig(l *config.Loader) Config {
	cfg := Config{
		StripeSecrets:           secretList(l, varStripeSecrets, validStripeSecret),
		ShopifySecrets:          secretList(l, varShopifySecret, func(s string) bool { return len(s) >= 16 }),
		StandardSources:         map[string][]config.Secret{},
		MaxBody:                 int64(l.Int(varMaxBody, defaultMaxBody)),
		ShopifyMaxAge:           l.Duration(varShopifyMaxAge, defaultShopifyMaxAge),
		RejectionAuditPerMinute: l.Int(varRejectionAudit, 0),
		ProjectID:               l.String("GATEHOUSE_PROJECT_ID", ""),
	}
	if cfg.MaxBody < 1024 || cfg.MaxBody > maxMaxBody {
		l.Fail(varMaxBody, "must be between 1024 and 1048576 bytes")
		cfg.MaxBody = defaultMaxBody
	}
	if cfg.RejectionAuditPerMinute < 0 || cfg.RejectionAuditPerMinute > 10000 {
		l.Fail(varRejectionAudit, "must be between 0 (audit every rejection) and 10000")
		cfg.RejectionAuditPerMinute = 0
	}
	if cfg.ShopifyMaxAge < time.Minute {
		l.Fail(varShopifyMaxAge, "must be at least 1 minute")
		cfg.ShopifyMaxAge = defaultShopifyMaxAge
	}
	for _, name := range l.List(varStandardSources, nil) {
		if !sourceNameRE.MatchString(name) {
			l.Fail(varStandardSources, "source names are 1-32 of a-z 0-9 _ - starting with a letter or digit")
			continue
		}
		secretVar := standardSecretVar(name)
		secrets := secretList(l, secretVar, validStandardSecret)
		if len(secrets) == 0 {
			l.Fail(secretVar, "required for source "+name)
		}
		cfg.StandardSources[name] = secrets
	}
	cfg.BillingTopic = topicName(l, varBillingTopic, l.String(varBillingTopic, ""), cfg.ProjectID)
	cfg.EventTopic = topicName(l, varEventTopic, l.String(varEventTopic, ""), cfg.ProjectID)
	if cfg.EventTopic == "" {
		cfg.EventTopic = cfg.BillingTopic
	}
	if cfg.BillingTopic == "" && l.Env().Deployed() {
		l.Fail(varBillingTopic, "required when "+config.EnvVar+"="+string(l.Env()))
	}
	return cfg
}

// standardSecretVar names the secret variable of a Standard Webhooks source.
func standardSecretVar(source string) string {
	return varStandardPrefix + strings.ToUpper(strings.ReplaceAll(source, "-", "_"))
}

// secretList reads a secret variable whose value (plain in dev, an sm://
// reference elsewhere) holds one or more secrets separated by commas or
// white space, and checks each with valid. The loader resolves one
// reference per variable, so during a roll the Secret Manager version holds
// both secrets.
func secretList(l *config.Loader, name string, valid func(string) bool) []config.Secret {
	var out []config.Secret
	raw := l.OptionalSecret(name).Reveal()
	for _, s := range strings.FieldsFunc(raw, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' }) {
		if !valid(s) {
			l.Fail(name, "a secret in the list has the wrong form") // never the value
			continue
		}
		out = append(out, logging.NewSecret(s))
	}
	return out
}

func validStripeSecret(s string) bool { return strings.HasPrefix(s, "whsec_") && len(s) >= 16 }

// validStandardSecret accepts a whsec_ secret whose base64 key is 24 to 64
// bytes, as the Standard Webhooks specification requires.
func validStandardSecret(s string) bool {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, "whsec_"))
	return err == nil && len(key) >= 24 && len(key) <= 64
}

// topicName returns topic as a full projects/P/topics/T name, "" if unset.
func topicName(l *config.Loader, name, topic, project string) string {
	switch {
	case topic == "":
		return ""
	case topicNameRE.MatchString(topic):
		return topic
	case !topicIDRE.MatchString(topic) || strings.HasPrefix(topic, "goog"):
		l.Fail(name, "not a Pub/Sub topic (projects/P/topics/T or a topic ID)")
	case project == "":
		l.Fail(name, "a topic ID needs GATEHOUSE_PROJECT_ID (or give projects/P/topics/T)")
	default:
		return "projects/" + project + "/topics/" + topic
	}
	return ""
}
