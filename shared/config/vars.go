package config

// Variable declares one configuration variable. Every GATEHOUSE_* variable
// any function or command reads is declared exactly once, in [Groups] (or,
// for a family whose members another package enumerates, with
// [Loader.Declare]): the [Loader] refuses to read an undeclared name, the
// unknown-variable check ([Loader.CheckUnknown]) accepts only declared
// names, and the configuration tables of README.md and the guides are
// generated from the declarations (docs/configdoc).
type Variable struct {
	// Name is the variable, or a family of variables with one placeholder
	// in angle brackets, GATEHOUSE_STANDARD_WEBHOOK_SECRET_<SOURCE>, which
	// stands for one or more of A-Z, 0-9 and _.
	Name    string
	Default string // as documented; "" when there is none
	Secret  bool   // must be an sm:// reference in staging and prod
	Doc     string
}

// Group is the variables one guide documents.
type Group struct {
	Name  string // "shared", "auth", ...
	Guide string // the file whose config table lists them, relative to the repository root
	Vars  []Variable
}

// Variables returns the variables [LoadBase] reads, in the order a README
// should list them.
func Variables() []Variable { return sharedVars }

// Groups returns every declared variable, grouped by the guide that
// documents it.
func Groups() []Group {
	return []Group{
		{"shared", "README.md", sharedVars},
		{"auth", "docs/auth.md", authVars},
		{"authz", "docs/authz.md", authzVars},
		{"oauthcallback", "docs/oauth.md", oauthVars},
		{"webhooks", "docs/webhooks.md", webhookVars},
		{"rotate", "docs/rotate.md", rotateVars},
		{"admin", "docs/admin.md", adminVars},
		{"pages", "docs/pages.md", pageVars},
		{"tests", "docs/operations.md", testVars},
	}
}

var sharedVars = []Variable{
	{EnvVar, "dev", false, "Environment: dev, staging or prod. dev is refused on Cloud Run (K_SERVICE set); staging and prod require sm:// secrets, Cloud KMS, PostgreSQL and a notify topic, and refuse unknown GATEHOUSE_* variables."},
	{"GATEHOUSE_DATA_DIR", "./.gatehouse", false, "Directory for local state: the SQLite database, the local key file and the development mailbox."},
	{"GATEHOUSE_DB_URL", "", true, "PostgreSQL connection string (postgres:// URL or key=value form); in staging and prod it must say sslmode=verify-full. Empty with no DB_INSTANCE means embedded SQLite at DATA_DIR/gatehouse.db (dev only)."},
	{"GATEHOUSE_DB_INSTANCE", "", false, "Cloud SQL instance connection name, project:region:instance, reached through the Cloud SQL connector with IAM authentication. Requires DB_USER and DB_NAME."},
	{"GATEHOUSE_DB_USER", "", false, "Database user; with DB_INSTANCE, the IAM database user (service account e-mail without .gserviceaccount.com)."},
	{"GATEHOUSE_DB_NAME", "", false, "Database name."},
	{"GATEHOUSE_DB_MAX_CONNS", "8", false, "PostgreSQL connections per instance (1-100); see docs/scaling.md for the budget against Cloud SQL max_connections."},
	{"GATEHOUSE_KMS_KEY", "", false, "Cloud KMS key-encryption key, projects/P/locations/L/keyRings/R/cryptoKeys/K. Empty means a local file key, allowed only in dev."},
	{"GATEHOUSE_LOG_LEVEL", "info", false, "Minimum log level: debug, info, warn or error."},
	{"GATEHOUSE_PROJECT_ID", "", false, "Google Cloud project ID. Required in staging and prod."},
	{"GATEHOUSE_TRUSTED_PROXY_HOPS", "1 on Cloud Run, else 0", false, "Number of trusted reverse proxies in front of the function (0-10), used to find the client IP in X-Forwarded-For; 0 ignores the header. The start log says which count is in force."},
	{"GATEHOUSE_ALLOWED_ORIGINS", "", false, "Comma-separated browser origins (scheme://host[:port]) allowed to make state-changing requests; https only in staging and prod."},
	{"GATEHOUSE_PUBLIC_URL", "http://localhost:8080 in dev (gatehouse serve: the address it listens on)", false, "Public base URL: the issuer, and the hosted pages (/auth/ui) that e-mailed links point at; https and required in staging and prod."},
	{"GATEHOUSE_NOTIFY_TOPIC", "", false, "Pub/Sub topic for outbound messages, projects/P/topics/T or a topic ID. Required in staging and prod; in dev, empty means the local mailbox."},
	{"GATEHOUSE_EVENTS_TOPIC", "", false, "Pub/Sub topic for the events Gatehouse announces to the SaaS (docs/events.md), projects/P/topics/T or a topic ID. Empty publishes none (webhooks may still be configured)."},
	{"GATEHOUSE_EVENT_WEBHOOK_URLS", "", false, "Comma-separated URLs of the SaaS (at most 10) that receive every event as a signed Standard Webhook (docs/events.md); https, checked against the outbound client's rules at start (http only to a loopback host in dev). Each needs GATEHOUSE_EVENT_WEBHOOK_SECRET where the rotate function runs."},
	{"GATEHOUSE_EVENT_WEBHOOK_TYPES", "", false, "Comma-separated event kinds (user.created, mfa.changed, ...) the webhook URLs receive; empty means every kind. An unknown kind stops the start."},
	{"GATEHOUSE_SMTP_URL", "", true, "Optional SMTP relay, smtp://user:pass@host:port?from=address (STARTTLS required)."},
	{"GATEHOUSE_DNS_RESOLVER", "", false, "DNS resolver (IP or IP:port) that single sign-on domain verification asks for TXT records; empty means the system's resolver."},
	{"GATEHOUSE_TRACES", "off in dev, cloud elsewhere", false, "Where spans go: off (spans still get ids, which log lines carry), stdout (one JSON document per span) or cloud (Cloud Trace of PROJECT_ID). See docs/operations.md."},
	{"GATEHOUSE_TRACE_SAMPLE_RATIO", "0.1", false, "Share of new traces recorded, 0 to 1; a request whose caller sampled its trace is always recorded."},
	{"GATEHOUSE_METRICS", "off in dev, cloud elsewhere", false, "Where metrics go: off, stdout or cloud (Cloud Monitoring of PROJECT_ID, once a minute)."},
	{"GATEHOUSE_SECRETS_GENERATION", "0", false, "Set by Terraform from secrets_generation: raising it deploys a new revision whose instances read every secret's latest version at start; logged at start."},
}

var authVars = []Variable{
	{"GATEHOUSE_ARGON2_MEMORY_KIB", "19456", false, "Argon2id memory in KiB, 19456 (the OWASP minimum) to 4194304; checked before narrowing, so an overflowing value is refused rather than wrapped."},
	{"GATEHOUSE_ARGON2_TIME", "2", false, "Argon2id passes, 1 to 64."},
	{"GATEHOUSE_ARGON2_THREADS", "1", false, "Argon2id parallelism, 1 to 64."},
	{"GATEHOUSE_PASSWORD_MAX_CONCURRENT", "GOMAXPROCS", false, "Hashes computed at once per instance (a semaphore bounding memory)."},
	{"GATEHOUSE_PASSWORD_PEPPER", "", true, "Optional password pepper."},
	{"GATEHOUSE_PASSWORD_MIN_SCORE", "2", false, "zxcvbn score (0-4) a new password must reach."},
	{"GATEHOUSE_ACCESS_TOKEN_TTL", "10m", false, "Access-token lifetime, 1 minute to 10 minutes."},
	{"GATEHOUSE_SESSION_IDLE_TIMEOUT", "24h", false, "A session unused this long ends."},
	{"GATEHOUSE_SESSION_ABSOLUTE_TIMEOUT", "720h", false, "A session ends this long after sign-in, used or not."},
	{"GATEHOUSE_REFRESH_GRACE", "10s", false, "A just-rotated refresh token presented again within this window gets the same answer instead of revoking the session; negative disables."},
	{"GATEHOUSE_STEP_UP_WINDOW", "10m", false, "How recent a strong authentication must be for sensitive actions."},
	{"GATEHOUSE_NEW_DEVICE_WINDOW", "2160h", false, "A sign-in from a device or network not seen for this long (90 days) alerts the user."},
	{"GATEHOUSE_PASSWORD_RESET_TTL", "30m", false, "Password-reset link lifetime, 1 minute to 2 hours."},
	{"GATEHOUSE_MAGIC_LINK_TTL", "10m", false, "Magic-link lifetime, 1 minute to 10 minutes (AUTH-15)."},
	{"GATEHOUSE_SIGNUP_TTL", "24h", false, "Sign-up confirmation link lifetime, 1 minute to 72 hours."},
	{"GATEHOUSE_AUTH_LINK_URL", "the hosted pages, PUBLIC_URL + /auth/ui", false, "Where e-mailed links point: /signup/confirm, /reset-password, /magic-link, /invitations/accept, /signin/confirm (OAuthCallback), the token in the #token= fragment; set it to point them at your own pages (docs/pages.md)."},
	{"GATEHOUSE_INTROSPECTION_CLIENTS", "", true, "id:secret,... of the RFC 7662 introspection clients (client_secret_basic)."},
	{"GATEHOUSE_LOCKOUT_THRESHOLD", "5", false, "Failed sign-ins (from devices the account never used) within the lockout window that lock the account; 3-20 in staging and prod."},
	{"GATEHOUSE_LOCKOUT_BASE", "30s", false, "First lock; it doubles with each further failure. 1 second to 1 hour in staging and prod."},
	{"GATEHOUSE_LOCKOUT_MAX", "15m", false, "Longest lock, at least the first lock; at most 24 hours in staging and prod."},
	{"GATEHOUSE_LOCKOUT_WINDOW", "1h", false, "Failures are counted while they are less than this apart; 10 minutes to 24 hours in staging and prod."},
}

var authzVars = []Variable{
	{"GATEHOUSE_TOTP_ISSUER", "Gatehouse", false, "Issuer shown in authenticator apps."},
	{"GATEHOUSE_WEBAUTHN_RP_ID", "host of the first WebAuthn origin", false, "Relying party id: a domain (not an IP, not a public suffix; localhost allowed) that every WebAuthn origin's host equals or is under; anything else stops the start."},
	{"GATEHOUSE_WEBAUTHN_RP_NAME", "Gatehouse", false, "Relying party name."},
	{"GATEHOUSE_WEBAUTHN_ORIGINS", "the domain origins of ALLOWED_ORIGINS, else the public URL's", false, "Origins passkeys are used from; IP origins are left out of the default (browsers refuse passkeys on IP addresses) and refused when listed."},
	{"GATEHOUSE_INVITATION_TTL", "168h", false, "Invitation lifetime, at most 30 days."},
	{"GATEHOUSE_INVITATION_URL", "AUTH_LINK_URL + /invitations/accept", false, "App page accepting invitations; the token is added as #token=..."},
}

var oauthVars = []Variable{
	{"GATEHOUSE_OAUTH_<PLATFORM>_CLIENT_ID", "", false, "Client id per platform (GOOGLE_ADS, GOOGLE_BUSINESS_PROFILE, LINKEDIN, META_ADS, SHOPIFY). A platform without one is unavailable (404 unknown_platform)."},
	{"GATEHOUSE_OAUTH_<PLATFORM>_CLIENT_SECRET", "", true, "Client secret per platform; required with the client id."},
	{"GATEHOUSE_OAUTH_<PLATFORM>_AUTH_URL", "", false, "Authorization endpoint override (tests, staging); also _TOKEN_URL, _REVOKE_URL, _ISSUER, _API_URL."},
	{"GATEHOUSE_OAUTH_<PLATFORM>_TOKEN_URL", "", false, "Token endpoint override."},
	{"GATEHOUSE_OAUTH_<PLATFORM>_REVOKE_URL", "", false, "Revocation endpoint override."},
	{"GATEHOUSE_OAUTH_<PLATFORM>_ISSUER", "", false, "OIDC issuer override."},
	{"GATEHOUSE_OAUTH_<PLATFORM>_API_URL", "", false, "Provider API base override."},
	{"GATEHOUSE_SIGNIN_<PROVIDER>_CLIENT_ID", "", false, "Sign-in client per provider (GOOGLE, GITHUB), with the same suffixes as the platforms: _CLIENT_SECRET, _AUTH_URL, _TOKEN_URL, _REVOKE_URL, _ISSUER (Google), _API_URL (GitHub)."},
	{"GATEHOUSE_SIGNIN_<PROVIDER>_CLIENT_SECRET", "", true, "Sign-in client secret; required with the client id."},
	{"GATEHOUSE_SIGNIN_<PROVIDER>_AUTH_URL", "", false, "Authorization endpoint override."},
	{"GATEHOUSE_SIGNIN_<PROVIDER>_TOKEN_URL", "", false, "Token endpoint override."},
	{"GATEHOUSE_SIGNIN_<PROVIDER>_REVOKE_URL", "", false, "Revocation endpoint override."},
	{"GATEHOUSE_SIGNIN_<PROVIDER>_ISSUER", "", false, "OIDC issuer override (Google)."},
	{"GATEHOUSE_SIGNIN_<PROVIDER>_API_URL", "", false, "API base override (GitHub)."},
	{"GATEHOUSE_OAUTH_PLATFORMS", "", false, "JSON array of platform definitions added to the catalogue; each is then configured as GATEHOUSE_OAUTH_<NAME>_*."},
	{"GATEHOUSE_SIGNIN_RETURN_URL", "/", false, "Where a sign-in started without return_to lands; checked against the return-URL policy at start, so a bad value stops the function."},
	{"GATEHOUSE_APP_URL", "first allowed origin", false, "The app's origin: relative return_to paths resolve there."},
	{"GATEHOUSE_OAUTH_CALLBACK_BASE", "PUBLIC_URL + /oauth", false, "This function's public URL; register <base>/callback/<platform> and <base>/signin/<provider>/callback at each provider."},
	{"GATEHOUSE_BROKER_AUDIENCE", "", false, "Broker callers present Google-signed ID tokens for this audience."},
	{"GATEHOUSE_BROKER_ALLOWED_SERVICE_ACCOUNTS", "", false, "Comma-separated service accounts allowed to call the broker; required with the audience."},
	{"GATEHOUSE_BROKER_SECRET", "", true, "Dev only: a shared secret (at least 32 characters) instead of ID tokens."},
}

var webhookVars = []Variable{
	{"GATEHOUSE_STRIPE_WEBHOOK_SECRETS", "", true, "One or more whsec_ signing secrets separated by commas or white space (both during a roll, in one Secret Manager version)."},
	{"GATEHOUSE_SHOPIFY_API_SECRET", "", true, "The app's API secret (two, separated the same way, while rotating)."},
	{"GATEHOUSE_STANDARD_WEBHOOK_SOURCES", "", false, "Comma-separated source names ([a-z0-9][a-z0-9_-]{0,31}), the {source} of the route."},
	{"GATEHOUSE_STANDARD_WEBHOOK_SECRET_<SOURCE>", "", true, "Required per source: its whsec_ secret(s) (base64 key of 24 to 64 bytes); <SOURCE> is the name upper-cased with - as _."},
	{"GATEHOUSE_WEBHOOK_MAX_BODY", "65536", false, "Body limit in bytes, 1024 to 1048576."},
	{"GATEHOUSE_SHOPIFY_MAX_AGE", "1h", false, "Shopify deliveries older than this are recorded, not applied. At least 1 minute."},
	{"GATEHOUSE_WEBHOOK_REJECTION_AUDIT_PER_MINUTE", "0", false, "0 audits every rejected delivery; a positive number (up to 10000) samples them per provider, client network and reason."},
	{"GATEHOUSE_BILLING_TOPIC", "", false, "Pub/Sub topic for Stripe events (projects/P/topics/T, or a topic ID with GATEHOUSE_PROJECT_ID). Required in staging and prod; empty in dev keeps messages in the outbox."},
	{"GATEHOUSE_WEBHOOK_TOPIC", "billing topic", false, "Pub/Sub topic for Shopify and Standard Webhooks events."},
}

var rotateVars = []Variable{
	{"GATEHOUSE_ROTATE_DATA_KEY_PERIOD", "720h", false, "Age of the primary data key that triggers a new one."},
	{"GATEHOUSE_ROTATE_SIGNING_KEY_PERIOD", "24h", false, "Age of the newest signing key that triggers a new one."},
	{"GATEHOUSE_ROTATE_CREDENTIAL_GRACE", "168h", false, "Revoked or invalid credentials keep their ciphertext this long."},
	{"GATEHOUSE_ROTATE_BATCH_SIZE", "500", false, "Values per re-encryption transaction (1-10000)."},
	{"GATEHOUSE_ROTATE_LEASE_TTL", "10m", false, "Lease lifetime unless renewed."},
	{"GATEHOUSE_ROTATE_MAX_MESSAGE_AGE", "6h", false, "Older rotation messages are dropped."},
	{"GATEHOUSE_EVENT_WEBHOOK_SECRET", "generated and printed by gatehouse serve in dev", true, "Standard Webhooks signing secret of the event webhooks, whsec_ and the base64 of 24 to 64 random bytes; required with GATEHOUSE_EVENT_WEBHOOK_URLS in staging and prod."},
	{"GATEHOUSE_EVENT_WEBHOOK_MAX_ATTEMPTS", "20", false, "Attempts of an event webhook before it is dead (1-100); retries back off 30 s·2^n with full jitter, capped at 12 hours."},
	{"GATEHOUSE_ROTATE_DESTROY_DELAY", "15m", false, "A demoted data key is destroyed no sooner (after a suspected exposure: 1 minute)."},
}

var adminVars = []Variable{
	{"GATEHOUSE_ADMIN_ACCOUNTS", "", false, "Comma-separated service-account e-mails allowed to call the admin API; empty: no ID token is accepted."},
	{"GATEHOUSE_ADMIN_AUDIENCE", "", false, "The admin API's URL, the ID tokens' aud; required with ADMIN_ACCOUNTS. gatehouse admin also reads it."},
	{"GATEHOUSE_ADMIN_ISSUER", "", false, "Dev and tests only: a local OpenID provider's issuer instead of Google."},
	{"GATEHOUSE_ADMIN_JWKS_URL", "", false, "Dev and tests only: that provider's JWKS URL."},
	{"GATEHOUSE_ADMIN_URL", "", false, "gatehouse admin: the Auth function's URL (the --url default)."},
	{"GATEHOUSE_ADMIN_TOKEN", "", true, "gatehouse admin: a bearer token sent as is (the local admin token gatehouse serve prints) instead of a Google ID token."},
}

var pageVars = []Variable{
	{"GATEHOUSE_UI_PRODUCT_NAME", "Gatehouse", false, "Shown in the header and every title."},
	{"GATEHOUSE_UI_LOGO_URL", "", false, "An https:// URL (its origin joins img-src) or a path on this origin."},
	{"GATEHOUSE_UI_PRIMARY_COLOR", "#1a56db", false, "#rrggbb only (anything else stops the start: no CSS injection)."},
	{"GATEHOUSE_UI_BACKGROUND_COLOR", "#f4f5f7", false, "#rrggbb only."},
	{"GATEHOUSE_UI_SUPPORT_URL", "", false, "http(s) or mailto: link in every footer."},
	{"GATEHOUSE_UI_STRINGS", "", false, "Path of a JSON file {\"id\": \"text\"} overriding strings of the catalogue (functions/auth/ui/strings.go); an id the pages do not have stops the start."},
	{"GATEHOUSE_UI_OAUTH_URL", "/oauth", false, "Where the OAuthCallback function is served, for provider buttons and SSO."},
	{"GATEHOUSE_UI_SSO", "true", false, "Show the organization SSO form."},
}

// testVars are read by the test tooling, never by a function; they are
// declared so that a function started where they are set (CI) does not
// call them unknown.
var testVars = []Variable{
	{"GATEHOUSE_TEST_DATABASE_URL", "", false, "Tests: the PostgreSQL server tests use (scripts/test starts one when unset)."},
	{"GATEHOUSE_REQUIRE_POSTGRES", "", false, "Tests: 1 makes a PostgreSQL test without a database fail instead of skipping."},
	{"GATEHOUSE_DURABLE_DATABASE_URL", "", false, "Tests: a PostgreSQL server with fsync on, for the tests of commit behaviour (skipped without it)."},
	{"GATEHOUSE_BENCH_DATABASE_URL", "TEST_DATABASE_URL", false, "gatehouse bench: the PostgreSQL server it measures against."},
	{"GATEHOUSE_TEST_JSON", ".gatehouse/test.json", false, "scripts/test: where the run's go test -json stream is kept (gatehouse evidence reads it)."},
	{"GATEHOUSE_REQUIRE_TRIVY", "", false, "Tests: 1 makes the Terraform tests fail when trivy (trivy config) is missing."},
	{"GATEHOUSE_REQUIRE_TERRAFORM", "", false, "Tests: 1 makes the Terraform tests fail when terraform or the offline google provider is missing."},
	{"GATEHOUSE_TERRAFORM_MIRROR", "../shared/terraform/mirror beside the clone", false, "Tests: the filesystem mirror terraform init installs the google provider from (terraform validate and terraform test)."},
}
