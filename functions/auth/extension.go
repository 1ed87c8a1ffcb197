package auth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/audit"
	"github.com/gatehouse-dev/gatehouse/shared/authz"
	"github.com/gatehouse-dev/gatehouse/shared/bootstrap"
	"github.com/gatehouse-dev/gatehouse/shared/config"
	"github.com/gatehouse-dev/gatehouse/shared/mfa"
	"github.com/gatehouse-dev/gatehouse/shared/session"
	"github.com/gatehouse-dev/gatehouse/shared/store"
	"github.com/gatehouse-dev/gatehouse/shared/web"
)

// ExtensionConfig holds the MFA and organization settings. The zero value
// works: every empty field takes the default noted on it.
type ExtensionConfig struct {
	TOTPIssuer      string        // issuer shown in authenticator apps; "Gatehouse"
	WebAuthnRPID    string        // relying party id; the host of the first WebAuthn origin (see webAuthnOrigins)
	WebAuthnRPName  string        // relying party name; "Gatehouse"
	WebAuthnOrigins []string      // origins passkeys are used from; the allowed browser origins
	InvitationTTL   time.Duration // how long an invitation stays valid; 7 days
	// InvitationURL is the app page that accepts invitations; the token is
	// appended as the fragment "#token=...", so it never reaches a server
	// log or a Referer. Default: the mailed-link base (Config.LinkBase, the
	// hosted pages unless GATEHOUSE_AUTH_LINK_URL says otherwise) +
	// "/invitations/accept".
	InvitationURL string
}

// loadExtensionConfig reads GATEHOUSE_TOTP_ISSUER, GATEHOUSE_WEBAUTHN_RP_ID,
// GATEHOUSE_WEBAUTHN_RP_NAME, GATEHOUSE_WEBAUTHN_ORIGINS,
// GATEHOUSE_INVITATION_TTL and GATEHOUSE_INVITATION_URL.
func loadExtensionConfig(l *config.Loader) ExtensionConfig {
	c := ExtensionConfig{
		TOTPIssuer:      l.String("GATEHOUSE_TOTP_ISSUER", ""),
		WebAuthnRPID:    l.String("GATEHOUSE_WEBAUTHN_RP_ID", ""),
		WebAuthnRPName:  l.String("GATEHOUSE_WEBAUTHN_RP_NAME", ""),
		WebAuthnOrigins: l.List("GATEHOUSE_WEBAUTHN_ORIGINS", nil),
		InvitationTTL:   l.Duration("GATEHOUSE_INVITATION_TTL", 0),
		InvitationURL:   l.String("GATEHOUSE_INVITATION_URL", ""),
	}
	if c.InvitationTTL != 0 {
		l.CheckDuration("GATEHOUSE_INVITATION_TTL", c.InvitationTTL, time.Minute, 30*24*time.Hour)
	}
	return c
}

// withDefaults fills the empty fields from the shared configuration.
func (c ExtensionConfig) withDefaults(base config.Base) (ExtensionConfig, error) {
	if c.TOTPIssuer == "" {
		c.TOTPIssuer = "Gatehouse"
	}
	if c.WebAuthnRPName == "" {
		c.WebAuthnRPName = "Gatehouse"
	}
	origins, err := webAuthnOrigins(c.WebAuthnOrigins, base)
	if err != nil {
		return c, err
	}
	c.WebAuthnOrigins = origins
	first, _ := url.Parse(origins[0])
	if c.WebAuthnRPID == "" {
		c.WebAuthnRPID = first.Hostname()
	}
	if err := checkRPID(c.WebAuthnRPID, origins); err != nil {
		return c, err
	}
	if c.InvitationTTL == 0 {
		c.InvitationTTL = 7 * 24 * time.Hour
	}
	if c.InvitationURL == "" {
		c.InvitationURL = first.Scheme + "://" + first.Host + "/invitations/accept"
	}
	return c, nil
}

// ext is the MFA and organizations half of the function.
type ext struct {
	d        *bootstrap.Deps
	cfg      ExtensionConfig
	sessions *session.Manager
	mfa      *mfa.Service
	webauthn *mfa.WebAuthn
	authz    *authz.Authorizer
}

// newExtension builds the MFA and organization routes on d.
func newExtension(d *bootstrap.Deps, cfg ExtensionConfig, sessions *session.Manager) (Extension, error) {
	cfg, err := cfg.withDefaults(d.Config)
	if err != nil {
		return nil, err
	}
	wa, err := mfa.NewWebAuthn(d.Store, mfa.WebAuthnConfig{RPID: cfg.WebAuthnRPID, RPDisplayName: cfg.WebAuthnRPName,
		RPOrigins: cfg.WebAuthnOrigins}, d.Now, d.Rand)
	if err != nil {
		return nil, err
	}
	return &ext{d: d, cfg: cfg, sessions: sessions, webauthn: wa, authz: authz.New(d),
		mfa: mfa.NewService(d.Store, d.Keyring, cfg.TOTPIssuer, d.Now, d.Rand)}, nil
}

// Register adds the MFA and organization routes to mux.
func (x *ext) Register(mux *http.ServeMux) {
	x.registerMFA(mux)
	x.registerMFALogin(mux)
	x.registerOrgs(mux)
	x.registerSCIM(mux)
	x.registerPolicy(mux)
	x.registerReviews(mux)
}

// handle adapts h; authed also requires a session.
func (x *ext) handle(h web.HandlerFunc) http.Handler { return web.Handler(x.d.Logger, h) }
func (x *ext) authed(h web.HandlerFunc) http.Handler { return x.sessions.Authenticate(x.handle(h)) }

// orgRoute requires a session and perm in the organization of the {org}
// path segment.
func (x *ext) orgRoute(perm authz.Permission, h web.HandlerFunc) http.Handler {
	return x.sessions.Authenticate(x.authz.Require(perm, authz.OrgFromPath("org"))(x.handle(h)))
}

// userID is the signed-in user of an authed route.
func extUserID(r *http.Request) string {
	p, _ := session.FromContext(r.Context())
	return p.UserID
}

// network is the client network of r, for audit events.
func (x *ext) network(r *http.Request) string {
	p := web.Network(web.ClientIP(r, x.d.Config.TrustedProxyHops))
	if !p.IsValid() {
		return ""
	}
	return p.String()
}

// record appends an audit event through tx (the change's transaction).
func (x *ext) record(r *http.Request, tx store.AuditLog, e audit.Event) error {
	if e.Network == "" {
		e.Network = x.network(r)
	}
	_, err := x.d.Audit.RecordTx(r.Context(), tx, e)
	return err
}

// Methods implements MFA.
func (x *ext) Methods(ctx context.Context, userID string) ([]string, error) {
	return x.mfa.Methods(ctx, userID)
}

// ProfileMethods implements MFA.
func (x *ext) ProfileMethods(p store.Profile) []string { return mfa.MethodsOf(p.MFA) }

// extDecodeStrict decodes a JSON value embedded in a request (a step-up
// proof) as strictly as web.DecodeJSON decodes bodies.
func extDecodeStrict(raw json.RawMessage, dst any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return web.Invalid(map[string]string{"proof": "is not a valid proof for this method"}).WithCause(err)
	}
	if dec.More() {
		return web.Invalid(map[string]string{"proof": "has data after the proof"})
	}
	return nil
}

// extUnavailable maps a failure of a dependency (the store, the keyring)
// to 503, leaving web errors as they are: the request is refused, never
// half-done or waved through.
func extUnavailable(err error) error {
	var we *web.Error
	if err == nil || errors.As(err, &we) {
		return err
	}
	return web.Unavailable(err)
}
