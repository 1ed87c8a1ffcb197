package oauthcallback

import (
	"net/url"
	"strings"

	"github.com/gatehouse-dev/gatehouse/shared/config"
	"github.com/gatehouse-dev/gatehouse/shared/logging"
	"github.com/gatehouse-dev/gatehouse/shared/outbound"
	"github.com/gatehouse-dev/gatehouse/shared/provider"
)

// Config holds the function's own settings.
type Config struct {
	// Platforms configures each platform by name; one without a client id
	// is unavailable (GET /connect answers 404 unknown_platform).
	Platforms map[string]provider.Settings
	// Defined are the platforms GATEHOUSE_OAUTH_PLATFORMS defines (a JSON
	// array of [provider.Definition]s), each configured in Platforms like a
	// built-in one.
	Defined []provider.Platform
	// SignIn configures the sign-in providers ("google", "github") the
	// same way.
	SignIn map[string]provider.Settings
	// AppURL is the app's origin: relative return URLs resolve to it.
	// Empty means the first allowed origin, else the public URL's origin.
	AppURL string
	// SignInReturnURL is where a sign-in started without return_to (the
	// sign_in_url PUT /sso hands out) lands; it must pass the return-URL
	// policy. Empty means "/", the app's root.
	SignInReturnURL string
	// LinkBase is where the e-mailed sign-in confirmation link points
	// (LinkBase+"/signin/confirm"): GATEHOUSE_AUTH_LINK_URL, the same
	// setting as the Auth function's links. Empty means the hosted pages,
	// PublicURL+"/auth/ui".
	LinkBase string
	// CallbackBase is this function's public URL; provider callbacks are
	// CallbackBase+"/callback/{platform}". Empty means PublicURL+"/oauth".
	CallbackBase string
	// BrokerSecret authenticates callers of POST /internal/token in dev
	// (shared-secret mode). Refused outside dev.
	BrokerSecret logging.Secret
	// BrokerAudience and BrokerServiceAccounts select ID-token mode: a
	// Google-signed ID token for this audience whose verified e-mail is
	// one of the service accounts.
	BrokerAudience        string
	BrokerServiceAccounts []string
	// Outbound makes every request to a platform or identity provider
	// (APP-7). Nil means the production [outbound.Client]; tests set one
	// from outboundtest to reach their local servers.
	Outbound *outbound.Client
}

// envName is the variable prefix of platform name: GATEHOUSE_OAUTH_GOOGLE_ADS_.
func envName(prefix, name string) string {
	return prefix + strings.ToUpper(name) + "_"
}

// LoadConfig reads the function's settings, recording problems in l.
// Per platform (and sign-in provider) P: GATEHOUSE_OAUTH_<P>_CLIENT_ID,
// _CLIENT_SECRET (a secret: sm:// outside dev), and optional endpoint
// overrides _AUTH_URL, _TOKEN_URL, _REVOKE_URL, _ISSUER.
func LoadConfig(l *config.Loader) Config {
	c := Config{Platforms: map[string]provider.Settings{}, SignIn: map[string]provider.Settings{}}
	c.Defined = loadDefined(l)
	for _, p := range append(provider.Builtin(), c.Defined...) {
		c.Platforms[p.Name] = loadSettings(l, envName("GATEHOUSE_OAUTH_", p.Name))
	}
	for _, name := range signInProviders() {
		c.SignIn[name] = loadSettings(l, envName("GATEHOUSE_SIGNIN_", name))
	}
	c.AppURL = l.String("GATEHOUSE_APP_URL", "")
	if c.AppURL != "" {
		if u, err := url.Parse(c.AppURL); err != nil || u.Scheme+"://"+u.Host != c.AppURL || u.Host == "" {
			l.Fail("GATEHOUSE_APP_URL", "not an origin (scheme://host[:port])")
		}
	}
	c.SignInReturnURL = l.String("GATEHOUSE_SIGNIN_RETURN_URL", "")
	c.LinkBase = strings.TrimSuffix(l.String("GATEHOUSE_AUTH_LINK_URL", ""), "/")
	c.CallbackBase = strings.TrimSuffix(l.String("GATEHOUSE_OAUTH_CALLBACK_BASE", ""), "/")
	loadBroker(l, &c)
	return c
}

// loadDefined reads GATEHOUSE_OAUTH_PLATFORMS: platforms defined by
// configuration alone. Their endpoints must be https outside dev.
func loadDefined(l *config.Loader) []provider.Platform {
	raw := l.String("GATEHOUSE_OAUTH_PLATFORMS", "")
	if strings.TrimSpace(raw) == "" {
		return nil
	}
	ps, err := provider.ParseDefinitions([]byte(raw), l.Env().Deployed())
	if err != nil {
		l.Fail("GATEHOUSE_OAUTH_PLATFORMS", err.Error())
		return nil
	}
	return ps
}

func loadSettings(l *config.Loader, prefix string) provider.Settings {
	s := provider.Settings{
		ClientID:     l.String(prefix+"CLIENT_ID", ""),
		ClientSecret: l.OptionalSecret(prefix + "CLIENT_SECRET"),
		AuthURL:      l.String(prefix+"AUTH_URL", ""),
		TokenURL:     l.String(prefix+"TOKEN_URL", ""),
		RevokeURL:    l.String(prefix+"REVOKE_URL", ""),
		Issuer:       l.String(prefix+"ISSUER", ""),
		APIURL:       l.String(prefix+"API_URL", ""),
	}
	if s.ClientID != "" && s.ClientSecret.IsZero() {
		l.Fail(prefix+"CLIENT_SECRET", "required when "+prefix+"CLIENT_ID is set")
	}
	return s
}

func loadBroker(l *config.Loader, c *Config) {
	c.BrokerSecret = l.OptionalSecret("GATEHOUSE_BROKER_SECRET")
	c.BrokerAudience = l.String("GATEHOUSE_BROKER_AUDIENCE", "")
	c.BrokerServiceAccounts = l.List("GATEHOUSE_BROKER_ALLOWED_SERVICE_ACCOUNTS", nil)
	if !c.BrokerSecret.IsZero() && l.Env().Deployed() {
		l.Fail("GATEHOUSE_BROKER_SECRET", "shared-secret broker authentication is for dev only; set GATEHOUSE_BROKER_AUDIENCE")
	}
	if !c.BrokerSecret.IsZero() && len(c.BrokerSecret.Reveal()) < 32 {
		l.Fail("GATEHOUSE_BROKER_SECRET", "must be at least 32 characters")
	}
	if c.BrokerAudience != "" && len(c.BrokerServiceAccounts) == 0 {
		l.Fail("GATEHOUSE_BROKER_ALLOWED_SERVICE_ACCOUNTS", "required when GATEHOUSE_BROKER_AUDIENCE is set")
	}
}
