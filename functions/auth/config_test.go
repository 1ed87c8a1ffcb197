package auth

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/bootstrap/bootstraptest"
	"github.com/gatehouse-dev/gatehouse/shared/config"
	"github.com/gatehouse-dev/gatehouse/shared/notify"
	"github.com/gatehouse-dev/gatehouse/shared/ratelimit"
	"github.com/gatehouse-dev/gatehouse/shared/session"
)

func loadConfig(env map[string]string) (Config, error) {
	l := config.NewLoader(context.Background(), func(name string) (string, bool) {
		v, ok := env[name]
		return v, ok
	}, nil)
	c := LoadConfig(l)
	return c, l.Err()
}

// Configuration errors state ranges as the guide writes them, and the
// lockout is configurable, within bounds outside dev.
func TestLoadConfigChecks(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		wantErr string // "" means accepted
	}{
		{"access TTL over the range", map[string]string{"GATEHOUSE_ACCESS_TOKEN_TTL": "15m"},
			"GATEHOUSE_ACCESS_TOKEN_TTL: must be between 1 minute and 10 minutes; got 15 minutes"},
		{"signup TTL over the range", map[string]string{"GATEHOUSE_SIGNUP_TTL": "100h"},
			"GATEHOUSE_SIGNUP_TTL: must be between 1 minute and 3 days; got 100 hours"},
		{"dev accepts a loose lockout", map[string]string{"GATEHOUSE_LOCKOUT_THRESHOLD": "100"}, ""},
		{"prod refuses a loose lockout", map[string]string{"GATEHOUSE_ENV": "prod", "GATEHOUSE_LOCKOUT_THRESHOLD": "100"},
			"GATEHOUSE_LOCKOUT_THRESHOLD: must be between 3 and 20 in staging and prod"},
		{"prod refuses a short window", map[string]string{"GATEHOUSE_ENV": "prod", "GATEHOUSE_LOCKOUT_WINDOW": "1m"},
			"GATEHOUSE_LOCKOUT_WINDOW: must be between 10 minutes and 24 hours; got 1 minute"},
		{"dev refuses an inconsistent lockout", map[string]string{"GATEHOUSE_LOCKOUT_BASE": "1h", "GATEHOUSE_LOCKOUT_MAX": "1m"},
			"GATEHOUSE_LOCKOUT_THRESHOLD: the lockout needs"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadConfig(tc.env)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
			}
		})
	}
	c, err := loadConfig(map[string]string{"GATEHOUSE_LOCKOUT_THRESHOLD": "3", "GATEHOUSE_LOCKOUT_BASE": "1m",
		"GATEHOUSE_LOCKOUT_MAX": "1h", "GATEHOUSE_LOCKOUT_WINDOW": "2h"})
	want := session.Lockout{Threshold: 3, Base: time.Minute, Max: time.Hour, Window: 2 * time.Hour}
	if err != nil || c.Session.Lockout != want {
		t.Fatalf("lockout = %+v, %v; want %+v", c.Session.Lockout, err, want)
	}
}

// A configured lockout threshold is the one sign-in applies, and e-mails
// give link lifetimes in words.
//
// Controls: AUTH-3
func TestConfiguredLockoutAndLinkLifetimeText(t *testing.T) {
	te := newTestEnv(t, bootstraptest.Backend{Name: "sqlite", Open: bootstraptest.SQLite}, func(c *Config, _ *Extension) {
		c.Session.Lockout = session.Lockout{Threshold: 2, Base: time.Minute, Max: time.Minute, Window: time.Hour}
	})
	te.signUp(t, "kai@example.com", testPassword)
	attacker := fromNetwork("203.0.113.9")
	for range 2 {
		te.login(t, "kai@example.com", otherPassword, attacker)
	}
	if rec := te.login(t, "kai@example.com", testPassword, attacker); rec.Code != http.StatusUnauthorized {
		t.Fatalf("right password after 2 failures with threshold 2: %d, want 401 (locked)", rec.Code)
	}
	te.Env.Clock.Advance(61 * time.Second)
	if rec := te.login(t, "kai@example.com", testPassword, attacker); rec.Code != http.StatusOK {
		t.Fatalf("after the 1-minute lock: %d", rec.Code)
	}
	if rec := te.do(t, "POST", "/password/reset", map[string]string{"email": "kai@example.com"}); rec.Code != http.StatusAccepted {
		t.Fatalf("reset request: %d %s", rec.Code, rec.Body)
	}
	msg := te.lastMessage(t, "kai@example.com", notify.KindPasswordReset)
	if !strings.Contains(msg.Text, "for 30 minutes.") || strings.Contains(msg.Text, "0s") {
		t.Fatalf("reset e-mail text %q, want the lifetime as \"30 minutes\"", msg.Text)
	}
}

// Development rates are generous: a person trying magic links locally is
// not refused on the fourth, while the defaults tests use (staging and
// prod's) refuse it.
//
// Controls: AUTH-3, AUTH-9
func TestDevLimitsAllowLocalTesting(t *testing.T) {
	for _, tc := range []struct {
		env  string
		want []int
	}{
		{"dev", []int{202, 202, 202, 202, 202, 202}},
		{"prod", []int{202, 202, 202, 429}},
	} {
		t.Run(tc.env, func(t *testing.T) {
			te := newTestEnv(t, bootstraptest.Backend{Name: "sqlite", Open: bootstraptest.SQLite})
			l := config.NewLoader(context.Background(), func(name string) (string, bool) {
				return tc.env, name == config.EnvVar
			}, nil)
			te.Env.Limiter.Use(ratelimit.Load(l))
			te.signUp(t, "lou@example.com", testPassword)
			for i, want := range tc.want {
				if rec := te.do(t, "POST", "/magic-link", map[string]string{"email": "lou@example.com"}); rec.Code != want {
					t.Fatalf("magic link %d: %d, want %d", i+1, rec.Code, want)
				}
			}
		})
	}
}
