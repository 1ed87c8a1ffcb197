package config

import "github.com/gatehouse-dev/gatehouse/shared/logging"

// Secret is the redacting secret type of package logging: every way of
// printing it (fmt, JSON, text, slog) yields "[REDACTED]" and only Reveal
// exposes the value. Configuration secrets ([Loader.Secret], [Base.DBURL],
// [Base.SMTPURL]) use it so they can be passed on to any package unchanged.
type Secret = logging.Secret
