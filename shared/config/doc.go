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
//	stripeSecrets := l.Secret("GATEHOUSE_STRIPE_WEBHOOK_SECRETS")
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
// Every variable is declared once, in [Groups]: reading an undeclared name
// is recorded as an error (so a forgotten declaration fails the function's
// tests), and [Loader.CheckUnknown] refuses, in staging and prod, a
// GATEHOUSE_* variable that no declaration names, naming the closest
// declared one (a misspelt GATEHOUSE_STRIPE_WEBHOOK_SECRET would otherwise
// leave Stripe closed without a word). In dev it is a warning.
package config
