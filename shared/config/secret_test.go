package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/shared/logging"
)

const testSecretValue = "s3cr3t-Value-9f2b"

// Controls: AUDIT-2, CRED-4
func TestSecretNeverPrinted(t *testing.T) {
	s := logging.NewSecret(testSecretValue)
	holder := Base{Env: EnvProd, DBURL: s, SMTPURL: s}
	jsonOut, err := json.Marshal(holder)
	if err != nil {
		t.Fatalf("json.Marshal: %v", err)
	}
	tests := []struct {
		name string
		out  string
	}{
		{"String", s.String()},
		{"GoString", s.GoString()},
		{"%v", fmt.Sprintf("%v", s)},
		{"%+v struct", fmt.Sprintf("%+v", holder)},
		{"%#v struct", fmt.Sprintf("%#v", holder)},
		{"%s", fmt.Sprintf("%s", s)},
		{"%q", fmt.Sprintf("%q", s)},
		{"%x", fmt.Sprintf("%x", s)},
		{"%d", fmt.Sprintf("%d", s)},
		{"json", string(jsonOut)},
		{"slog text", logText(t, false, "secret", s)},
		{"slog json", logText(t, true, "secret", s)},
		{"slog json struct", logText(t, true, "holder", holder)},
		{"slog text struct", logText(t, false, "holder", holder)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if strings.Contains(tc.out, testSecretValue) || strings.Contains(tc.out, fmt.Sprintf("%x", testSecretValue)) {
				t.Fatalf("output exposes the secret: %s", tc.out)
			}
			if !strings.Contains(tc.out, "[REDACTED]") {
				t.Fatalf("output %q lacks [REDACTED]", tc.out)
			}
		})
	}
}

func logText(t *testing.T, asJSON bool, key string, v any) string {
	t.Helper()
	var buf bytes.Buffer
	var h slog.Handler = slog.NewTextHandler(&buf, nil)
	if asJSON {
		h = slog.NewJSONHandler(&buf, nil)
	}
	slog.New(h).Info("config loaded", key, v)
	return buf.String()
}
