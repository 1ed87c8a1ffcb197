package bootstrap_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/shared/bootstrap"
	"github.com/gatehouse-dev/gatehouse/shared/config"
	"github.com/gatehouse-dev/gatehouse/shared/envelope"
	"github.com/gatehouse-dev/gatehouse/shared/logging/logtest"
	"github.com/gatehouse-dev/gatehouse/shared/notify"
	"github.com/gatehouse-dev/gatehouse/shared/store/sqlite"
)

// Controls: CRED-3
func TestDevDefaultsAreEmbedded(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("GATEHOUSE_DATA_DIR", dir)
	d, l, err := bootstrap.FromEnv(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := l.Err(); err != nil {
		t.Fatal(err)
	}
	if _, ok := d.Store.(*sqlite.DB); !ok {
		t.Fatalf("store is %T, want the embedded SQLite store", d.Store)
	}
	if _, ok := d.Notifier.(*notify.Mailbox); !ok {
		t.Fatalf("notifier is %T, want the development mailbox", d.Notifier)
	}
	b := envelope.Binding{Org: "org-1", Record: "r1", Field: "t.f"}
	ct, err := d.Keyring.Seal(context.Background(), envelope.PurposeCredential, b, []byte("s3cret-value"))
	if err != nil {
		t.Fatal(err)
	}
	if pt, err := d.Keyring.Open(context.Background(), envelope.PurposeCredential, b, ct); err != nil || string(pt) != "s3cret-value" {
		t.Fatalf("Open = %q, %v", pt, err)
	}
	fi, err := os.Stat(filepath.Join(dir, "kek.key"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("local key file: %v, %v; want mode 0600", fi, err)
	}
	keys, err := d.Store.ListDataKeys(context.Background())
	if err != nil || len(keys) != 1 || len(keys[0].Wrapped) == 0 {
		t.Fatalf("data keys = %+v, %v; want one, stored wrapped", keys, err)
	}
}

// Controls: APP-5, CRED-9
func TestDeployedFunctionRefusesToBuildWithoutItsSettings(t *testing.T) {
	t.Setenv("GATEHOUSE_ENV", "prod")
	t.Setenv("GATEHOUSE_DATA_DIR", t.TempDir())
	t.Setenv("GATEHOUSE_DB_URL", "postgres://app:hunter2-db-password@db.internal/gatehouse")
	t.Setenv("GATEHOUSE_STRIPE_WEBHOOK_SECRET", "whsec_misspelt-name-value")
	built := false
	_, err := bootstrap.Build(context.Background(), func(*bootstrap.Deps, *config.Loader) (struct{}, error) {
		built = true
		return struct{}{}, nil
	})
	if err == nil || built {
		t.Fatalf("Build in prod with no configuration: err = %v, built = %v; want a refusal before building", err, built)
	}
	for _, name := range []string{"GATEHOUSE_PROJECT_ID", "GATEHOUSE_KMS_KEY", "GATEHOUSE_NOTIFY_TOPIC", "GATEHOUSE_DB_URL"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error does not name %s: %v", name, err)
		}
	}
	if want := "GATEHOUSE_STRIPE_WEBHOOK_SECRET: not a Gatehouse variable; did you mean GATEHOUSE_STRIPE_WEBHOOK_SECRETS?"; !strings.Contains(err.Error(), want) {
		t.Errorf("error does not refuse the misspelt variable: %v", err)
	}
	if strings.Contains(err.Error(), "hunter2-db-password") || strings.Contains(err.Error(), "misspelt-name-value") {
		t.Fatalf("error repeats a secret: %v", err)
	}
	if !errors.Is(err, config.ErrPlainSecret) {
		t.Errorf("a plain database URL in prod is not reported as a plain secret: %v", err)
	}
}

// The start log says which proxy hop count is in force and what it means.
//
// Controls: AUTH-3
func TestLogClientAddressRule(t *testing.T) {
	for hops, want := range map[int]string{0: "X-Forwarded-For is ignored", 2: "entry 2 from the right of X-Forwarded-For"} {
		logger, logs := logtest.New(t)
		bootstrap.LogClientAddressRule(context.Background(), logger, config.Base{TrustedProxyHops: hops})
		lines := logs.Lines()
		if len(lines) != 1 || !strings.Contains(logs.Raw()[0], want) || !strings.Contains(logs.Raw()[0], `"trusted_proxy_hops":`+strconv.Itoa(hops)) {
			t.Fatalf("hops %d: %q", hops, logs.Raw())
		}
	}
}

// A misspelt variable stops a deployed function at start, naming the
// declared one it resembles; before, GATEHOUSE_STRIPE_WEBHOOK_SECRET
// (singular) started cleanly and left Stripe closed. The same start in dev
// proceeds (the name is logged as a warning).
func TestFromEnvRefusesUnknownVariableWhenDeployed(t *testing.T) {
	t.Setenv("GATEHOUSE_DATA_DIR", t.TempDir())
	t.Setenv("GATEHOUSE_STRIPE_WEBHOOK_SECRET", "whsec_x")
	t.Setenv("GATEHOUSE_LIMIT_LOGIN_NETWRK", "20/15m")
	t.Setenv(config.EnvVar, "staging")
	_, _, err := bootstrap.FromEnv(context.Background())
	if err == nil {
		t.Fatal("a deployed start with unknown variables succeeded")
	}
	for _, want := range []string{
		"GATEHOUSE_STRIPE_WEBHOOK_SECRET: not a Gatehouse variable; did you mean GATEHOUSE_STRIPE_WEBHOOK_SECRETS?",
		"GATEHOUSE_LIMIT_LOGIN_NETWRK: not a Gatehouse variable; did you mean GATEHOUSE_LIMIT_LOGIN_NETWORK?",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the start error does not say %q:\n%v", want, err)
		}
	}

	t.Setenv(config.EnvVar, "dev")
	d, l, err := bootstrap.FromEnv(context.Background())
	if err != nil {
		t.Fatalf("dev refused to start over unknown variables: %v", err)
	}
	defer d.Close()
	if err := l.Err(); err != nil {
		t.Fatalf("dev configuration: %v", err)
	}
}
