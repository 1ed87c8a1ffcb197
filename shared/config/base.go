package config

import (
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
)

// Base holds the settings every function shares. [LoadBase] fills it.
type Base struct {
	Env              Env
	DataDir          string
	DBURL            Secret // PostgreSQL connection string; zero when unset
	DBInstance       string // Cloud SQL project:region:instance; "" when unset
	DBUser           string
	DBName           string
	DBMaxConns       int    // PostgreSQL pool size per instance
	KMSKey           string // Cloud KMS key name; "" means the local file key (dev only)
	LogLevel         slog.Level
	ProjectID        string
	TrustedProxyHops int
	AllowedOrigins   []string
	PublicURL        *url.URL // never nil when the Loader reports no error
	NotifyTopic      string   // "" means the development mailbox (dev only)
	EventsTopic      string   // events to the SaaS (docs/events.md); "" publishes none
	// EventWebhooks are the SaaS's URLs that receive every event as a
	// Standard Webhook (docs/events.md); EventWebhookTypes, when not
	// empty, the event kinds ("user.created") they receive.
	EventWebhooks     []string
	EventWebhookTypes []string
	SMTPURL           Secret // zero when unset
	DNSResolver       string // IP:port of the DNS resolver for domain verification; "" means the system's
	Traces            string // off, stdout or cloud
	TraceSampleRatio  float64
	Metrics           string // off, stdout or cloud
	// SecretsGeneration is the Terraform secrets_generation the instance
	// was deployed with (GATEHOUSE_SECRETS_GENERATION, 0 when unset).
	// Raising it deploys a new revision whose instances read every
	// secret's latest version at start; it is logged at start, so an
	// operator can see which instances run the rolled secrets.
	SecretsGeneration int
}

// DefaultProxyHops is GATEHOUSE_TRUSTED_PROXY_HOPS when unset: 1 on Cloud
// Run, whose front end appends the client's address to X-Forwarded-For,
// and 0 anywhere else (the local server, a plain container), where the
// header is whatever the client wrote and only the peer address counts.
func DefaultProxyHops(onCloudRun bool) int {
	if onCloudRun {
		return 1
	}
	return 0
}

// UsesSQLite reports whether neither a PostgreSQL URL nor a Cloud SQL
// instance is configured, so the embedded SQLite database is used.
func (b Base) UsesSQLite() bool { return b.DBURL.IsZero() && b.DBInstance == "" }

// SQLitePath returns DATA_DIR/gatehouse.db.
func (b Base) SQLitePath() string { return filepath.Join(b.DataDir, "gatehouse.db") }

var (
	dbInstanceRE = regexp.MustCompile(`^(?:[a-z][a-z0-9.-]{0,62}:)?[a-z][a-z0-9-]{4,28}[a-z0-9]:[a-z]+-[a-z]+[0-9]+:[a-z][a-z0-9-]{0,97}$`)
	kmsKeyRE     = regexp.MustCompile(`^projects/[a-z0-9.:-]{6,100}/locations/[a-z0-9-]{1,63}/keyRings/[A-Za-z0-9_-]{1,63}/cryptoKeys/[A-Za-z0-9_-]{1,63}$`)
	topicIDRE    = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9._~+%-]{2,254}$`)
)

// LoadBase reads the shared settings ([Variables] lists them) and records
// every problem in l. In staging and prod it also requires what a deployed
// function needs: a project, PostgreSQL, a Cloud KMS key, an https public
// URL and a notify topic.
func LoadBase(l *Loader) Base {
	b := Base{Env: l.Env()}
	b.DataDir = l.String("GATEHOUSE_DATA_DIR", "./.gatehouse")
	loadDatabase(l, &b)
	b.KMSKey = l.String("GATEHOUSE_KMS_KEY", "")
	loadLogLevel(l, &b)
	b.ProjectID = l.String("GATEHOUSE_PROJECT_ID", "")
	b.TrustedProxyHops = l.Int("GATEHOUSE_TRUSTED_PROXY_HOPS", DefaultProxyHops(l.OnCloudRun()))
	b.AllowedOrigins = l.List("GATEHOUSE_ALLOWED_ORIGINS", nil)
	loadPublicURL(l, &b)
	b.NotifyTopic = l.String("GATEHOUSE_NOTIFY_TOPIC", "")
	b.EventsTopic = l.String("GATEHOUSE_EVENTS_TOPIC", "")
	b.EventWebhooks = l.List("GATEHOUSE_EVENT_WEBHOOK_URLS", nil)
	b.EventWebhookTypes = l.List("GATEHOUSE_EVENT_WEBHOOK_TYPES", nil)
	b.SMTPURL = l.OptionalSecret("GATEHOUSE_SMTP_URL")
	b.DNSResolver = l.String("GATEHOUSE_DNS_RESOLVER", "")
	loadTelemetry(l, &b)
	b.SecretsGeneration = l.Int("GATEHOUSE_SECRETS_GENERATION", 0)
	validateBase(l, b)
	return b
}

// LoadDatabase reads only what opening the store needs (the environment,
// DATA_DIR, the database settings and the log level): for operator
// commands such as `gatehouse migrate`, which touch nothing else and so
// need no KMS key, topic or public URL even in staging and prod.
func LoadDatabase(l *Loader) Base {
	b := Base{Env: l.Env()}
	b.DataDir = l.String("GATEHOUSE_DATA_DIR", "./.gatehouse")
	loadDatabase(l, &b)
	loadLogLevel(l, &b)
	b.ProjectID = l.String("GATEHOUSE_PROJECT_ID", "")
	return b
}

func loadDatabase(l *Loader, b *Base) {
	b.DBURL = l.OptionalSecret("GATEHOUSE_DB_URL")
	b.DBInstance = l.String("GATEHOUSE_DB_INSTANCE", "")
	b.DBUser = l.String("GATEHOUSE_DB_USER", "")
	b.DBName = l.String("GATEHOUSE_DB_NAME", "")
	b.DBMaxConns = l.Int("GATEHOUSE_DB_MAX_CONNS", 8)
	if b.DBMaxConns < 1 || b.DBMaxConns > 100 {
		l.Fail("GATEHOUSE_DB_MAX_CONNS", "must be between 1 and 100")
	}
	if !b.DBURL.IsZero() && !isPostgresDSN(b.DBURL.Reveal()) {
		l.Fail("GATEHOUSE_DB_URL", "not a PostgreSQL connection string (postgres://... or key=value)")
	} else if !b.DBURL.IsZero() && l.Env().Deployed() && !verifiesServer(b.DBURL.Reveal()) {
		l.Fail("GATEHOUSE_DB_URL", "must say sslmode=verify-full in "+string(l.Env())+
			" (or use GATEHOUSE_DB_INSTANCE, the Cloud SQL connector)")
	}
	if b.DBInstance != "" {
		if !dbInstanceRE.MatchString(b.DBInstance) {
			l.Fail("GATEHOUSE_DB_INSTANCE", "not a Cloud SQL instance connection name (project:region:instance)")
		}
		l.Required("GATEHOUSE_DB_USER")
		l.Required("GATEHOUSE_DB_NAME")
	}
	if l.Env().Deployed() && b.UsesSQLite() && !l.failed("GATEHOUSE_DB_URL") {
		requiredIn(l, "GATEHOUSE_DB_INSTANCE", " (or GATEHOUSE_DB_URL): SQLite is for dev only")
	}
}

// isPostgresDSN accepts the two forms pgx parses: a postgres:// or
// postgresql:// URL with a host or socket, or key=value pairs.
func isPostgresDSN(s string) bool {
	if strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://") {
		u, err := url.Parse(s)
		return err == nil && (u.Host != "" || u.Query().Get("host") != "")
	}
	return strings.Contains(s, "=") && !strings.Contains(s, "://")
}

// sslmodeKV finds sslmode settings in a key=value connection string.
var sslmodeKV = regexp.MustCompile(`(?:^|\s)sslmode\s*=\s*(?:'([^']*)'|(\S*))`)

// verifiesServer reports whether the connection string itself demands TLS
// with the server's certificate and host name verified: sslmode=verify-full,
// said once (or always), so neither a weaker later setting nor the
// PGSSLMODE environment variable (read when the string says nothing) can
// relax it.
func verifiesServer(dsn string) bool {
	var modes []string
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return false
		}
		modes = u.Query()["sslmode"]
	} else {
		for _, m := range sslmodeKV.FindAllStringSubmatch(dsn, -1) {
			modes = append(modes, m[1]+m[2])
		}
	}
	if len(modes) == 0 {
		return false
	}
	for _, m := range modes {
		if m != "verify-full" {
			return false
		}
	}
	return true
}

func loadLogLevel(l *Loader, b *Base) {
	name := "GATEHOUSE_LOG_LEVEL"
	levels := map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError}
	b.LogLevel = levels[l.OneOf(name, "info", "debug", "info", "warn", "error")]
}

// loadTelemetry reads where traces and metrics go: off by default in dev,
// Cloud Trace and Cloud Monitoring elsewhere.
func loadTelemetry(l *Loader, b *Base) {
	def := "off"
	if l.Env().Deployed() {
		def = "cloud"
	}
	b.Traces = l.OneOf("GATEHOUSE_TRACES", def, "off", "stdout", "cloud")
	b.Metrics = l.OneOf("GATEHOUSE_METRICS", def, "off", "stdout", "cloud")
	b.TraceSampleRatio = l.Float("GATEHOUSE_TRACE_SAMPLE_RATIO", 0.1)
	if b.TraceSampleRatio < 0 || b.TraceSampleRatio > 1 {
		l.Fail("GATEHOUSE_TRACE_SAMPLE_RATIO", "must be between 0 and 1")
	}
}

func loadPublicURL(l *Loader, b *Base) {
	name := "GATEHOUSE_PUBLIC_URL"
	def := ""
	if !l.Env().Deployed() {
		def = "http://localhost:8080"
	}
	b.PublicURL = l.URL(name, def)
	if b.PublicURL == nil {
		if !l.failed(name) {
			requiredIn(l, name, "")
		}
		return
	}
	if b.PublicURL.RawQuery != "" || b.PublicURL.Fragment != "" || b.PublicURL.User != nil {
		l.Fail(name, "must not have a query, fragment or user info")
	}
	checkScheme(l, name, b.PublicURL.Scheme)
}

func validateBase(l *Loader, b Base) {
	if b.DataDir == "" {
		l.Fail("GATEHOUSE_DATA_DIR", "must not be empty")
	}
	if b.KMSKey == "" && l.Env().Deployed() {
		requiredIn(l, "GATEHOUSE_KMS_KEY", ": the local key file is for dev only")
	} else if b.KMSKey != "" && !kmsKeyRE.MatchString(b.KMSKey) {
		l.Fail("GATEHOUSE_KMS_KEY", "not a Cloud KMS key name (projects/P/locations/L/keyRings/R/cryptoKeys/K)")
	}
	if b.ProjectID == "" && l.Env().Deployed() {
		requiredIn(l, "GATEHOUSE_PROJECT_ID", "")
	} else if b.ProjectID != "" && !projectRE.MatchString(b.ProjectID) {
		l.Fail("GATEHOUSE_PROJECT_ID", "not a Google Cloud project ID")
	}
	if b.TrustedProxyHops < 0 || b.TrustedProxyHops > 10 {
		l.Fail("GATEHOUSE_TRUSTED_PROXY_HOPS", "must be between 0 and 10")
	}
	for _, o := range b.AllowedOrigins {
		validateOrigin(l, "GATEHOUSE_ALLOWED_ORIGINS", o)
	}
	validateTopic(l, b.NotifyTopic)
	if b.EventsTopic != "" {
		checkTopicName(l, "GATEHOUSE_EVENTS_TOPIC", b.EventsTopic)
	}
	validateEventWebhooks(l, b.EventWebhooks)
	validateResolver(l, b.DNSResolver)
	if !b.SMTPURL.IsZero() {
		u, err := url.Parse(b.SMTPURL.Reveal())
		if err != nil || u.Scheme != "smtp" || u.Hostname() == "" || u.Query().Get("from") == "" {
			l.Fail("GATEHOUSE_SMTP_URL", "not an smtp://user:pass@host:port?from=address URL")
		}
	}
}

// maxEventWebhooks bounds GATEHOUSE_EVENT_WEBHOOK_URLS: each event is one
// row per endpoint, written in the transaction of its change.
const maxEventWebhooks = 10

// validateEventWebhooks accepts absolute https URLs without user
// information or fragment, each once; plain http only in dev and only to
// a loopback host (a receiver on the developer's machine). Whether a
// host may be reached at all is the outbound client's to say, at start
// (bootstrap) and on every connection.
func validateEventWebhooks(l *Loader, urls []string) {
	name := "GATEHOUSE_EVENT_WEBHOOK_URLS"
	if len(urls) > maxEventWebhooks {
		l.Fail(name, fmt.Sprintf("at most %d URLs", maxEventWebhooks))
	}
	seen := map[string]bool{}
	for _, raw := range urls {
		u, err := url.Parse(raw)
		switch {
		case err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "":
			l.invalid(name, "not an absolute URL", raw, l.raw(name))
		case u.User != nil || u.Fragment != "":
			l.Fail(name, "a URL must not have user information or a fragment")
		case u.Scheme == "http" && !l.Env().Deployed() && IsLoopbackHost(u.Hostname()):
		case u.Scheme != "https":
			l.Fail(name, "URLs must be https (http only to a loopback host in dev)")
		case seen[raw]:
			l.Fail(name, "a URL is listed twice")
		}
		seen[raw] = true
	}
}

// IsLoopbackHost reports whether host is localhost (or a name under it)
// or a loopback address.
func IsLoopbackHost(host string) bool {
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// validateResolver accepts "" (the system's resolver), an IP address or
// IP:port.
func validateResolver(l *Loader, addr string) {
	if addr == "" || net.ParseIP(addr) != nil {
		return
	}
	if host, port, err := net.SplitHostPort(addr); err != nil || net.ParseIP(host) == nil || port == "" {
		l.Fail("GATEHOUSE_DNS_RESOLVER", "not an IP address or IP:port")
	}
}

// validateOrigin accepts exactly scheme://host[:port], as browsers send it
// in the Origin header.
func validateOrigin(l *Loader, name, origin string) {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || u.Scheme+"://"+u.Host != origin {
		l.invalid(name, "not an origin (scheme://host[:port])", origin, l.raw(name))
		return
	}
	checkScheme(l, name, u.Scheme)
}

func checkScheme(l *Loader, name, scheme string) {
	switch {
	case scheme == "https":
	case scheme == "http" && !l.Env().Deployed():
	default:
		l.Fail(name, "scheme must be https (http is allowed in dev only)")
	}
}

func validateTopic(l *Loader, topic string) {
	name := "GATEHOUSE_NOTIFY_TOPIC"
	if topic == "" {
		if l.Env().Deployed() {
			requiredIn(l, name, ": the development mailbox is for dev only")
		}
		return
	}
	checkTopicName(l, name, topic)
}

// checkTopicName records a failure for name unless topic is projects/P/topics/T
// or a topic ID.
func checkTopicName(l *Loader, name, topic string) {
	id := topic
	if strings.HasPrefix(topic, "projects/") {
		parts := strings.Split(topic, "/")
		if len(parts) != 4 || parts[2] != "topics" || !projectRE.MatchString(parts[1]) {
			l.Fail(name, "not a Pub/Sub topic (projects/P/topics/T or a topic ID)")
			return
		}
		id = parts[3]
	}
	if !topicIDRE.MatchString(id) || strings.HasPrefix(id, "goog") {
		l.Fail(name, "not a Pub/Sub topic (projects/P/topics/T or a topic ID)")
	}
}

// requiredIn records that name is required in the current (deployed)
// environment; why, if any, follows with its own punctuation.
func requiredIn(l *Loader, name, why string) {
	detail := "required when " + EnvVar + "=" + string(l.Env())
	detail += why
	l.record(&VarError{Var: name, Kind: ErrRequired, Detail: detail})
}
