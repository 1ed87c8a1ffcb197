package ratelimit

import (
	"slices"
	"strings"
	"time"
)

// Spec declares one limit of the catalogue: its default rate in staging
// and prod (the embedded [Limit]) and what it protects. Every limit any
// function applies is declared here, once, so that each has its
// GATEHOUSE_LIMIT_* variable (see [Load]) and its line in
// docs/operations.md; a test refuses a Limit literal anywhere else.
type Spec struct {
	Limit
	Doc string
}

// Dev is the rate the limit has in development unless configured: generous
// (ten times the burst, at least 100), so a person trying Gatehouse locally
// is not refused on their fourth magic link.
func (s Spec) Dev() Rate { return Rate{Burst: max(100, 10*s.Burst), Period: s.Period} }

// Loosest is the most permissive rate staging and prod accept for the
// limit, its minimum protection: ten times the default burst over the same
// period. Anything stricter is accepted.
func (s Spec) Loosest() Rate { return Rate{Burst: 10 * s.Burst, Period: s.Period} }

// Var is the limit's configuration variable: GATEHOUSE_LIMIT_ and the name
// upper-cased with '-' as '_' (login-network: GATEHOUSE_LIMIT_LOGIN_NETWORK).
func (s Spec) Var() string {
	return VarPrefix + strings.ToUpper(strings.ReplaceAll(s.Name, "-", "_"))
}

// VarPrefix starts every limit's variable.
const VarPrefix = "GATEHOUSE_LIMIT_"

var catalogue []Spec

func declare(name string, burst int, period time.Duration, doc string) Limit {
	l := Limit{Name: name, Burst: burst, Period: period}
	catalogue = append(catalogue, Spec{Limit: l, Doc: doc})
	return l
}

// Catalogue returns every declared limit, sorted by name.
func Catalogue() []Spec {
	out := slices.Clone(catalogue)
	slices.SortFunc(out, func(a, b Spec) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// The limits. Account limits are keyed by the normalized e-mail address
// whether or not an account has it, so they reveal nothing; network limits
// by the client's /24 (IPv4) or /48 (IPv6).
var (
	LoginNetwork  = declare("login-network", 50, 10*time.Minute, "Password sign-ins per client network.")
	LoginAccount  = declare("login-account", 10, 10*time.Minute, "Password sign-ins per account from devices it never used.")
	LoginDevice   = declare("login-device", 10, 10*time.Minute, "Password sign-ins per account from a device it signed in from before.")
	SecondNetwork = declare("second-factor-network", 50, 10*time.Minute, "Second-factor verifications (TOTP, recovery code, passkey) per client network.")
	SecondAccount = declare("second-factor-account", 10, 10*time.Minute, "Second-factor verifications per account from devices it never used.")
	SecondDevice  = declare("second-factor-device", 10, 10*time.Minute, "Second-factor verifications per account from a known device.")

	RegisterNetwork    = declare("register-network", 20, time.Hour, "Sign-up requests per client network.")
	RegisterAccount    = declare("register-account", 3, time.Hour, "Sign-up requests per e-mail address.")
	LinkConfirmNetwork = declare("link-confirm-network", 20, 10*time.Minute, "Sign-up confirmations per client network.")
	ResetNetwork       = declare("reset-network", 20, 15*time.Minute, "Password-reset requests and confirmations per client network.")
	ResetAccount       = declare("reset-account", 3, 15*time.Minute, "Password-reset e-mails per address.")
	MagicLinkNetwork   = declare("magic-link-network", 20, 15*time.Minute, "Magic-link requests per client network.")
	MagicLinkAccount   = declare("magic-link-account", 3, 15*time.Minute, "Magic-link e-mails per address.")
	MagicVerifyNetwork = declare("magic-link-verify-network", 30, 10*time.Minute, "Magic-link sign-ins per client network.")

	IntrospectNetwork     = declare("introspect-network", 600, time.Minute, "Token introspection calls per client network.")
	MFAEnrollUser         = declare("mfa-enroll-user", 10, 15*time.Minute, "Attempts to finish enrolling a second factor, per user.")
	PasskeyOptionsNetwork = declare("passkey-options-network", 30, time.Minute, "Passwordless passkey ceremonies started per client network.")
	OrgCreateUser         = declare("org-create-user", 10, time.Hour, "Organizations one user creates.")
	OrgInvite             = declare("org-invite", 50, 24*time.Hour, "Invitations one organization sends.")

	IntrospectClient = declare("introspect-client", 6000, time.Minute, "RFC 7662 introspection calls per authenticated client.")
	RevokeNetwork    = declare("revoke-network", 120, time.Minute, "Token revocations per client network.")
	AdminNetwork     = declare("admin-network", 120, time.Minute, "Admin API calls per client network.")
	SCIMToken        = declare("scim-token", 600, time.Minute, "SCIM requests per provisioning token.")
	AuthzDenialsUser = declare("authz-denials-user", 60, 10*time.Minute, "Refused requests per user; past it a refusal is answered 429 and not audited.")

	SignInStartNetwork   = declare("signin-start-network", 60, time.Minute, "Federated and SSO sign-ins started per client network.")
	SignInConfirmMail    = declare("signin-confirm-mail", 3, 15*time.Minute, "Linking confirmations mailed per address.")
	SignInConfirmNetwork = declare("signin-confirm-network", 20, 10*time.Minute, "Linking confirmations per client network.")
	SSODomainVerify      = declare("sso-domain-verify", 10, 10*time.Minute, "SSO domain verification DNS lookups per organization.")
	SSOSaveUser          = declare("sso-save-user", 20, time.Hour, "OIDC SSO connection changes per user.")
	SAMLSaveUser         = declare("saml-save-user", 20, time.Hour, "SAML connection changes per user.")
	SAMLACSNetwork       = declare("saml-acs-network", 60, time.Minute, "SAML assertions posted per client network.")
)
