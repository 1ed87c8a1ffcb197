package config

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"testing"
)

func TestLoadBaseDevDefaults(t *testing.T) {
	l := newTestLoader(map[string]string{})
	b := LoadBase(l)
	if err := l.Err(); err != nil {
		t.Fatalf("Err() = %v", err)
	}
	tests := []struct {
		name      string
		got, want any
	}{
		{"env", b.Env, EnvDev},
		{"data dir", b.DataDir, "./.gatehouse"},
		{"sqlite", b.UsesSQLite(), true},
		{"sqlite path", b.SQLitePath(), ".gatehouse/gatehouse.db"},
		{"log level", b.LogLevel, slog.LevelInfo},
		{"proxy hops off Cloud Run", b.TrustedProxyHops, 0},
		{"pool size", b.DBMaxConns, 8},
		{"public url", b.PublicURL.String(), "http://localhost:8080"},
		{"no topic", b.NotifyTopic, ""},
		{"no kms key", b.KMSKey, ""},
		{"no smtp", b.SMTPURL.IsZero(), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Fatalf("got %#v, want %#v", tc.got, tc.want)
			}
		})
	}
}

const (
	refDBURL = "sm://projects/gatehouse-prod/secrets/db-url/versions/latest"
	refSMTP  = "sm://projects/gatehouse-prod/secrets/smtp-url/versions/2"
	dbURL    = "postgres://gatehouse:" + testSecretValue + "@10.0.0.3:5432/gatehouse?sslmode=verify-full"
	smtpURL  = "smtp://mailer:" + testSecretValue + "@smtp.example.com:587?from=noreply@example.com"
)

func prodEnv() map[string]string {
	return map[string]string{
		EnvVar:                         "prod",
		"GATEHOUSE_DATA_DIR":           "/tmp/gatehouse",
		"GATEHOUSE_DB_INSTANCE":        "gatehouse-prod:europe-west1:main",
		"GATEHOUSE_DB_USER":            "auth-fn@gatehouse-prod.iam",
		"GATEHOUSE_DB_NAME":            "gatehouse",
		"GATEHOUSE_KMS_KEY":            "projects/gatehouse-prod/locations/europe-west1/keyRings/gatehouse/cryptoKeys/kek",
		"GATEHOUSE_LOG_LEVEL":          "warn",
		"GATEHOUSE_PROJECT_ID":         "gatehouse-prod",
		"GATEHOUSE_TRUSTED_PROXY_HOPS": "2",
		"GATEHOUSE_ALLOWED_ORIGINS":    "https://app.example.com, https://admin.example.com:8443",
		"GATEHOUSE_PUBLIC_URL":         "https://auth.example.com/",
		"GATEHOUSE_NOTIFY_TOPIC":       "projects/gatehouse-prod/topics/gatehouse-notify",
		"GATEHOUSE_SMTP_URL":           refSMTP,
	}
}

func prodVersions() map[string]fakeVersion {
	return map[string]fakeVersion{
		strings.TrimPrefix(refDBURL, SecretRefPrefix): {data: []byte(dbURL)},
		strings.TrimPrefix(refSMTP, SecretRefPrefix):  {data: []byte(smtpURL)},
	}
}

// Controls: CRED-9
func TestLoadBaseProd(t *testing.T) {
	sm, _ := startFakeSecretManager(t, prodVersions())
	env := prodEnv()
	env["GATEHOUSE_DB_URL"] = refDBURL
	l := NewLoader(context.Background(), mapLookup(env), sm)
	b := LoadBase(l)
	if err := l.Err(); err != nil {
		t.Fatalf("Err() = %v", err)
	}
	if b.Env != EnvProd || b.UsesSQLite() || b.DBURL.Reveal() != dbURL || b.SMTPURL.Reveal() != smtpURL {
		t.Fatalf("Base = %+v", b)
	}
	if b.LogLevel != slog.LevelWarn || b.TrustedProxyHops != 2 || b.PublicURL.Host != "auth.example.com" {
		t.Fatalf("Base = %+v", b)
	}
	if want := []string{"https://app.example.com", "https://admin.example.com:8443"}; !slices.Equal(b.AllowedOrigins, want) {
		t.Fatalf("AllowedOrigins = %q, want %q", b.AllowedOrigins, want)
	}
}

// Controls: CRED-9, APP-5
func TestLoadBaseRequiresDeployedSettings(t *testing.T) {
	l := newTestLoader(map[string]string{EnvVar: "staging"})
	LoadBase(l)
	want := []string{
		"GATEHOUSE_DB_INSTANCE: required when GATEHOUSE_ENV=staging (or GATEHOUSE_DB_URL): SQLite is for dev only",
		"GATEHOUSE_PUBLIC_URL: required when GATEHOUSE_ENV=staging",
		"GATEHOUSE_KMS_KEY: required when GATEHOUSE_ENV=staging: the local key file is for dev only",
		"GATEHOUSE_PROJECT_ID: required when GATEHOUSE_ENV=staging",
		"GATEHOUSE_NOTIFY_TOPIC: required when GATEHOUSE_ENV=staging: the development mailbox is for dev only",
	}
	err := l.Err()
	if got := strings.Split(errString(err), "\n"); !slices.Equal(got, want) {
		t.Fatalf("Err() lines =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !errors.Is(err, ErrRequired) {
		t.Fatalf("Err() is not ErrRequired")
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// Controls: CRED-9, AUDIT-2, CRED-4
func TestLoadBaseInvalidValues(t *testing.T) {
	tests := []struct {
		name    string
		set     map[string]string
		wantErr string // the only error line expected
	}{
		{"plain DB URL in prod", map[string]string{"GATEHOUSE_DB_URL": dbURL}, "GATEHOUSE_DB_URL: must be an sm://"},
		{"plain SMTP URL in prod", map[string]string{"GATEHOUSE_SMTP_URL": smtpURL}, "GATEHOUSE_SMTP_URL: must be an sm://"},
		{"DB URL not postgres", map[string]string{"GATEHOUSE_DB_URL": refDBURL, "test:db": "mysql://u:" + testSecretValue + "@h/db"}, "GATEHOUSE_DB_URL: not a PostgreSQL connection string"},
		{"DB URL without sslmode", map[string]string{"GATEHOUSE_DB_URL": refDBURL, "test:db": "postgres://u:" + testSecretValue + "@10.0.0.3/db"}, "GATEHOUSE_DB_URL: must say sslmode=verify-full in prod"},
		{"DB URL sslmode=require", map[string]string{"GATEHOUSE_DB_URL": refDBURL, "test:db": "postgres://u:" + testSecretValue + "@10.0.0.3/db?sslmode=require"}, "GATEHOUSE_DB_URL: must say sslmode=verify-full"},
		{"DB URL verify-full then disable", map[string]string{"GATEHOUSE_DB_URL": refDBURL, "test:db": "postgres://u:" + testSecretValue + "@10.0.0.3/db?sslmode=verify-full&sslmode=disable"}, "GATEHOUSE_DB_URL: must say sslmode=verify-full"},
		{"DB key=value verify-ca", map[string]string{"GATEHOUSE_DB_URL": refDBURL, "test:db": "host=10.0.0.3 password=" + testSecretValue + " sslmode=verify-ca"}, "GATEHOUSE_DB_URL: must say sslmode=verify-full"},
		{"DB key=value verify-full then prefer", map[string]string{"GATEHOUSE_DB_URL": refDBURL, "test:db": "host=10.0.0.3 sslmode = 'verify-full' password=" + testSecretValue + " sslmode=prefer"}, "GATEHOUSE_DB_URL: must say sslmode=verify-full"},
		{"DB key=value without sslmode", map[string]string{"GATEHOUSE_DB_URL": refDBURL, "test:db": "host=10.0.0.3 password=" + testSecretValue}, "GATEHOUSE_DB_URL: must say sslmode=verify-full"},
		{"SMTP URL without from", map[string]string{"test:smtp": "smtp://u:" + testSecretValue + "@h:587"}, "GATEHOUSE_SMTP_URL: not an smtp://"},
		{"SMTP URL unparsable", map[string]string{"test:smtp": "smtp://u:" + testSecretValue + "@h:port?from=a@b"}, "GATEHOUSE_SMTP_URL: not an smtp://"},
		{"unreadable DB URL", map[string]string{"GATEHOUSE_DB_URL": "sm://projects/gatehouse-prod/secrets/missing/versions/1", "GATEHOUSE_DB_INSTANCE": ""}, "GATEHOUSE_DB_URL: read sm://projects/gatehouse-prod/secrets/missing/versions/1"},
		{"bad instance", map[string]string{"GATEHOUSE_DB_INSTANCE": "gatehouse-prod/main"}, "GATEHOUSE_DB_INSTANCE: not a Cloud SQL instance connection name"},
		{"instance without user", map[string]string{"GATEHOUSE_DB_USER": ""}, "GATEHOUSE_DB_USER: required"},
		{"bad kms key", map[string]string{"GATEHOUSE_KMS_KEY": "projects/p/keyRings/r/cryptoKeys/k"}, "GATEHOUSE_KMS_KEY: not a Cloud KMS key name"},
		{"bad log level", map[string]string{"GATEHOUSE_LOG_LEVEL": "verbose"}, `GATEHOUSE_LOG_LEVEL: must be one of debug, info, warn, error: "verbose"`},
		{"bad project", map[string]string{"GATEHOUSE_PROJECT_ID": "Gatehouse"}, "GATEHOUSE_PROJECT_ID: not a Google Cloud project ID"},
		{"hops out of range", map[string]string{"GATEHOUSE_TRUSTED_PROXY_HOPS": "-1"}, "GATEHOUSE_TRUSTED_PROXY_HOPS: must be between 0 and 10"},
		{"origin with path", map[string]string{"GATEHOUSE_ALLOWED_ORIGINS": "https://app.example.com/"}, `GATEHOUSE_ALLOWED_ORIGINS: not an origin (scheme://host[:port]): "https://app.example.com/"`},
		{"http origin in prod", map[string]string{"GATEHOUSE_ALLOWED_ORIGINS": "http://app.example.com"}, "GATEHOUSE_ALLOWED_ORIGINS: scheme must be https"},
		{"http public url in prod", map[string]string{"GATEHOUSE_PUBLIC_URL": "http://auth.example.com"}, "GATEHOUSE_PUBLIC_URL: scheme must be https"},
		{"public url with query", map[string]string{"GATEHOUSE_PUBLIC_URL": "https://auth.example.com/?a=b"}, "GATEHOUSE_PUBLIC_URL: must not have a query"},
		{"bad topic", map[string]string{"GATEHOUSE_NOTIFY_TOPIC": "projects/p/subscriptions/s"}, "GATEHOUSE_NOTIFY_TOPIC: not a Pub/Sub topic"},
		{"reserved topic id", map[string]string{"GATEHOUSE_NOTIFY_TOPIC": "google-topic"}, "GATEHOUSE_NOTIFY_TOPIC: not a Pub/Sub topic"},
		{"resolver host name", map[string]string{"GATEHOUSE_DNS_RESOLVER": "dns.example.com:53"}, "GATEHOUSE_DNS_RESOLVER: not an IP address or IP:port"},
		{"resolver without port", map[string]string{"GATEHOUSE_DNS_RESOLVER": "10.0.0.2:"}, "GATEHOUSE_DNS_RESOLVER: not an IP address or IP:port"},
		{"http event webhook in prod", map[string]string{"GATEHOUSE_EVENT_WEBHOOK_URLS": "https://saas.example.com/a,http://localhost:9000/hooks"}, "GATEHOUSE_EVENT_WEBHOOK_URLS: URLs must be https"},
		{"event webhook with user info", map[string]string{"GATEHOUSE_EVENT_WEBHOOK_URLS": "https://u:p@saas.example.com/hooks"}, "GATEHOUSE_EVENT_WEBHOOK_URLS: a URL must not have user information"},
		{"event webhook relative", map[string]string{"GATEHOUSE_EVENT_WEBHOOK_URLS": "/hooks"}, "GATEHOUSE_EVENT_WEBHOOK_URLS: not an absolute URL"},
		{"event webhook twice", map[string]string{"GATEHOUSE_EVENT_WEBHOOK_URLS": "https://saas.example.com/h,https://saas.example.com/h"}, "GATEHOUSE_EVENT_WEBHOOK_URLS: a URL is listed twice"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			versions := prodVersions()
			if v, ok := tc.set["test:db"]; ok {
				versions[strings.TrimPrefix(refDBURL, SecretRefPrefix)] = fakeVersion{data: []byte(v)}
			}
			if v, ok := tc.set["test:smtp"]; ok {
				versions[strings.TrimPrefix(refSMTP, SecretRefPrefix)] = fakeVersion{data: []byte(v)}
			}
			sm, _ := startFakeSecretManager(t, versions)
			env := prodEnv()
			maps.Copy(env, tc.set)
			l := NewLoader(context.Background(), mapLookup(env), sm)
			LoadBase(l)
			err := errString(l.Err())
			if strings.Count(err, "\n") != 0 || !strings.HasPrefix(err, tc.wantErr) {
				t.Fatalf("Err() = %q, want one line starting %q", err, tc.wantErr)
			}
			if strings.Contains(err, testSecretValue) {
				t.Fatalf("error exposes a secret: %q", err)
			}
		})
	}
}

// In staging and prod a PostgreSQL URL must itself demand a verified
// server certificate and host name; both forms of connection string are
// read. Before, any sslmode (or none, leaving pgx's prefer, which falls
// back to plain text) was accepted.
//
// Controls: INFRA-1, CRED-4
func TestDeployedDBURLVerifiesServer(t *testing.T) {
	for _, dsn := range []string{
		"postgres://u:" + testSecretValue + "@10.0.0.3:5432/db?sslmode=verify-full",
		"postgresql://u@10.0.0.3/db?sslrootcert=/etc/ca.pem&sslmode=verify-full",
		"host=10.0.0.3 dbname=db sslmode=verify-full",
		"host=10.0.0.3 sslmode = 'verify-full' dbname=db",
	} {
		versions := prodVersions()
		versions[strings.TrimPrefix(refDBURL, SecretRefPrefix)] = fakeVersion{data: []byte(dsn)}
		sm, _ := startFakeSecretManager(t, versions)
		for _, env := range []string{"prod", "staging"} {
			vars := prodEnv()
			vars[EnvVar], vars["GATEHOUSE_DB_URL"], vars["GATEHOUSE_DB_INSTANCE"] = env, refDBURL, ""
			l := NewLoader(context.Background(), mapLookup(vars), sm)
			LoadBase(l)
			if err := l.Err(); err != nil {
				t.Fatalf("%s refused in %s: %v", strings.ReplaceAll(dsn, testSecretValue, "***"), env, err)
			}
			l = NewLoader(context.Background(), mapLookup(vars), sm)
			LoadDatabase(l)
			if err := l.Err(); err != nil {
				t.Fatalf("LoadDatabase refused in %s: %v", env, err)
			}
		}
	}
	versions := prodVersions()
	versions[strings.TrimPrefix(refDBURL, SecretRefPrefix)] = fakeVersion{data: []byte("postgres://u@10.0.0.3/db?sslmode=disable")}
	sm, _ := startFakeSecretManager(t, versions)
	l := NewLoader(context.Background(), mapLookup(map[string]string{EnvVar: "prod", "GATEHOUSE_DB_URL": refDBURL}), sm)
	LoadDatabase(l)
	if err := errString(l.Err()); !strings.Contains(err, "must say sslmode=verify-full") {
		t.Fatalf("LoadDatabase (gatehouse migrate) accepted sslmode=disable in prod: %q", err)
	}
}

func TestLoadBaseDevAcceptsLocalSettings(t *testing.T) {
	l := newTestLoader(map[string]string{
		"GATEHOUSE_DB_URL":              "host=localhost user=gatehouse dbname=gatehouse",
		"GATEHOUSE_ALLOWED_ORIGINS":     "http://localhost:5173",
		"GATEHOUSE_PUBLIC_URL":          "http://localhost:9000",
		"GATEHOUSE_NOTIFY_TOPIC":        "gatehouse-notify",
		"GATEHOUSE_SMTP_URL":            "smtp://localhost:1025?from=dev@localhost",
		"GATEHOUSE_EVENT_WEBHOOK_URLS":  "http://localhost:9000/hooks, http://127.0.0.1:9001/h,https://saas.example.com/hooks",
		"GATEHOUSE_EVENT_WEBHOOK_TYPES": "user.created,mfa.changed",
	})
	b := LoadBase(l)
	if err := l.Err(); err != nil {
		t.Fatalf("Err() = %v", err)
	}
	if b.UsesSQLite() || b.NotifyTopic != "gatehouse-notify" || len(b.EventWebhooks) != 3 || len(b.EventWebhookTypes) != 2 {
		t.Fatalf("Base = %+v", b)
	}
	l = newTestLoader(map[string]string{"GATEHOUSE_EVENT_WEBHOOK_URLS": "http://saas.example.com/hooks"})
	LoadBase(l)
	if err := errString(l.Err()); !strings.Contains(err, "http only to a loopback host in dev") {
		t.Fatalf("plain http to a remote host in dev: Err() = %q", err)
	}
}

// TestVariablesListsWhatLoadBaseReads keeps the documentation table in step
// with the code.
func TestVariablesListsWhatLoadBaseReads(t *testing.T) {
	read := map[string]bool{}
	lookup := func(name string) (string, bool) {
		if strings.HasPrefix(name, "GATEHOUSE_") {
			read[name] = true
		}
		return "", false
	}
	LoadBase(NewLoader(context.Background(), lookup, nil))
	var documented []string
	for _, v := range Variables() {
		documented = append(documented, v.Name)
		if v.Doc == "" {
			t.Errorf("%s has no description", v.Name)
		}
	}
	got := slices.Sorted(maps.Keys(read))
	slices.Sort(documented)
	if !slices.Equal(got, documented) {
		t.Fatalf("LoadBase reads %q, Variables documents %q", got, documented)
	}
	l := newTestLoader(map[string]string{EnvVar: "prod", "GATEHOUSE_DB_URL": "x", "GATEHOUSE_SMTP_URL": "y"})
	LoadBase(l)
	for _, v := range Variables() {
		if gotPlain := strings.Contains(errString(l.Err()), v.Name+": must be an sm://"); gotPlain != v.Secret {
			t.Errorf("%s: documented Secret=%v, but plain-value rejection is %v", v.Name, v.Secret, gotPlain)
		}
	}
}

// Off Cloud Run nothing in front of the process appends to
// X-Forwarded-For, so by default the header is ignored; on Cloud Run its
// front end is one hop. An explicit value wins either way. Before, the
// default was 1 everywhere, so a client talking to the local server (or
// any unproxied container) chose its own address for the rate limits.
//
// Controls: AUTH-3
func TestTrustedProxyHopsDefault(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		want int
	}{
		{"local", map[string]string{}, 0},
		{"cloud run", map[string]string{"K_SERVICE": "auth", EnvVar: "prod"}, 1},
		{"explicit locally", map[string]string{"GATEHOUSE_TRUSTED_PROXY_HOPS": "2"}, 2},
		{"explicit on cloud run", map[string]string{"K_SERVICE": "auth", EnvVar: "prod", "GATEHOUSE_TRUSTED_PROXY_HOPS": "2"}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := LoadBase(newTestLoader(tc.env)).TrustedProxyHops; got != tc.want {
				t.Fatalf("hops %d, want %d", got, tc.want)
			}
		})
	}
}

// Operator commands that only touch the database need only the database
// settings, even in prod, and still get every database check.
func TestLoadDatabaseOnly(t *testing.T) {
	ok := map[string]string{"GATEHOUSE_ENV": "prod", "GATEHOUSE_DB_INSTANCE": "my-project:us-central1:gatehouse-prod",
		"GATEHOUSE_DB_USER": "migrator@my-project.iam", "GATEHOUSE_DB_NAME": "gatehouse"}
	l := newTestLoader(ok)
	b := LoadDatabase(l)
	if err := l.Err(); err != nil || b.DBInstance != ok["GATEHOUSE_DB_INSTANCE"] || b.DBUser != ok["GATEHOUSE_DB_USER"] || b.Env != EnvProd {
		t.Fatalf("LoadDatabase = %+v, %v", b, err)
	}
	if l := newTestLoader(ok); LoadBase(l).Env == EnvProd && l.Err() == nil {
		t.Fatal("LoadBase accepted prod without KMS key, topic and public URL")
	}
	for name, env := range map[string]map[string]string{
		"no database in prod": {"GATEHOUSE_ENV": "prod"},
		"instance without user": {"GATEHOUSE_ENV": "prod", "GATEHOUSE_DB_INSTANCE": "my-project:us-central1:gatehouse-prod",
			"GATEHOUSE_DB_NAME": "gatehouse"},
		"plain URL in prod": {"GATEHOUSE_ENV": "prod", "GATEHOUSE_DB_URL": "postgres://u:p@db/x"},
	} {
		l := newTestLoader(env)
		LoadDatabase(l)
		if l.Err() == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
