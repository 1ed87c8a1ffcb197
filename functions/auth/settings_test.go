package auth

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/config"
	"github.com/gatehouse-dev/gatehouse/shared/password"
)

// loadWith reads the function's settings from env alone.
func loadWith(env map[string]string) (Config, error) {
	l := config.NewLoader(context.Background(), func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}, nil)
	c := LoadConfig(l)
	return c, l.Err()
}

// Settings that would weaken sign-in are refused at start: a magic link
// living over 10 minutes, Argon2id values out of range, including values
// past their field's integer type, which used to wrap around into accepted
// ones (GATEHOUSE_ARGON2_MEMORY_KIB=4294986752 became 19456 KiB,
// GATEHOUSE_ARGON2_THREADS=257 became 1).
//
// Controls: AUTH-15, AUTH-1, AUTH-9
func TestSettingBounds(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		bad  string // the variable the error names; "" when accepted
	}{
		{"defaults", nil, ""},
		{"magic link 10m", map[string]string{"GATEHOUSE_MAGIC_LINK_TTL": "10m"}, ""},
		{"magic link 11m", map[string]string{"GATEHOUSE_MAGIC_LINK_TTL": "11m"}, "GATEHOUSE_MAGIC_LINK_TTL"},
		{"magic link 15m", map[string]string{"GATEHOUSE_MAGIC_LINK_TTL": "15m"}, "GATEHOUSE_MAGIC_LINK_TTL"},
		{"argon2 strong", map[string]string{"GATEHOUSE_ARGON2_MEMORY_KIB": "65536", "GATEHOUSE_ARGON2_TIME": "3",
			"GATEHOUSE_ARGON2_THREADS": "4"}, ""},
		{"memory wraps to the minimum", map[string]string{"GATEHOUSE_ARGON2_MEMORY_KIB": "4294986752"}, "GATEHOUSE_ARGON2_MEMORY_KIB"},
		{"memory negative", map[string]string{"GATEHOUSE_ARGON2_MEMORY_KIB": "-1"}, "GATEHOUSE_ARGON2_MEMORY_KIB"},
		{"memory over 4 GiB", map[string]string{"GATEHOUSE_ARGON2_MEMORY_KIB": "4194305"}, "GATEHOUSE_ARGON2_MEMORY_KIB"},
		{"time wraps to 2", map[string]string{"GATEHOUSE_ARGON2_TIME": "4294967298"}, "GATEHOUSE_ARGON2_TIME"},
		{"time zero", map[string]string{"GATEHOUSE_ARGON2_TIME": "0"}, "GATEHOUSE_ARGON2_TIME"},
		{"threads wrap to 1", map[string]string{"GATEHOUSE_ARGON2_THREADS": "257"}, "GATEHOUSE_ARGON2_THREADS"},
		{"threads wrap to 0", map[string]string{"GATEHOUSE_ARGON2_THREADS": "256"}, "GATEHOUSE_ARGON2_THREADS"},
		{"threads past int64", map[string]string{"GATEHOUSE_ARGON2_THREADS": "18446744073709551617"}, "GATEHOUSE_ARGON2_THREADS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := loadWith(tt.env)
			switch {
			case tt.bad == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.bad != "" && (err == nil || !strings.Contains(err.Error(), tt.bad)):
				t.Fatalf("err = %v, want one naming %s (loaded %+v)", err, tt.bad, c.Argon2)
			}
			if err == nil {
				if err := c.Argon2.Validate(); err != nil {
					t.Fatalf("accepted parameters that do not validate: %v", err)
				}
			}
		})
	}
	c, err := loadWith(nil)
	if err != nil || c.MagicLinkTTL != 10*time.Minute || c.Argon2 != password.DefaultParams {
		t.Fatalf("defaults: %v, magic link %s, argon2 %+v", err, c.MagicLinkTTL, c.Argon2)
	}
}
