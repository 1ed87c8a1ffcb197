// Package config reads Gatehouse's typed configuration from GATEHOUSE_*
// environment variables and Secret Manager, and validates it at start.
//
// Every function builds a [Loader], reads the shared settings with
// [LoadBase] and its own settings with the Loader's accessors, then calls
// [Loader.Err] once and refuses to start if it is non-nil. Err lists every
// problem, each naming its variable and none repeating a secret value:
//
//	l := config.NewLoader(ctx, os.LookupEnv, sm)
//	base := config.LoadBase(l)
//	stripeSecret := l.Secret("GATEHOUSE_STRIPE_WEBHOOK_SECRET")
//	if err := l.Err(); err != nil {
//		return nil, fmt.Errorf("load configuration: %w", err)
//	}
//
// Any variable may hold a Secret Manager reference,
// sm://projects/P/secrets/S/versions/V (V a number or "latest"), which the
// loader reads through its [SecretSource] ([NewSecretManager] in
// production). In staging and prod every variable read as a secret
// ([Loader.Secret], [Loader.OptionalSecret]) must be such a reference, and a
// reference that cannot be read stops the start (control CRED-9, fail
// closed). Secret values are [Secret]s, which print as "[REDACTED]".
//
// [Variables] lists the shared variables for documentation.
package config

// Variable documents one shared configuration variable.
type Variable struct {
	Name    string
	Default string // "" when there is none
	Secret  bool   // must be an sm:// reference in staging and prod
	Doc     string
}

// Variables returns the variables [LoadBase] reads, in the order a README
// should list them.
func Variables() []Variable {
	return []Variable{
		{EnvVar, "dev", false, "Environment: dev, staging or prod. dev is refused on Cloud Run (K_SERVICE set); staging and prod require sm:// secrets, Cloud KMS, PostgreSQL and a notify topic."},
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
		{"GATEHOUSE_SMTP_URL", "", true, "Optional SMTP relay, smtp://user:pass@host:port?from=address (STARTTLS required)."},
		{"GATEHOUSE_DNS_RESOLVER", "", false, "DNS resolver (IP or IP:port) that single sign-on domain verification asks for TXT records; empty means the system's resolver."},
	}
}
