package logging_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/shared/logging"
)

// Controls: CRED-4, AUDIT-2
func TestSecretNeverPrints(t *testing.T) {
	const plain = "hunter2-very-secret"
	s := logging.NewSecret(plain)
	type wrapper struct {
		Name string
		Pass logging.Secret
		Ptr  *logging.Secret
	}
	w := wrapper{Name: "n", Pass: s, Ptr: &s}
	jsonOf := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		return string(b)
	}
	tests := []struct {
		name string
		got  string
	}{
		{name: "String", got: s.String()},
		{name: "GoString", got: s.GoString()},
		{name: "%v", got: fmt.Sprintf("%v", s)},
		{name: "%+v", got: fmt.Sprintf("%+v", s)},
		{name: "%#v", got: fmt.Sprintf("%#v", s)},
		{name: "%s", got: fmt.Sprintf("%s", s)},
		{name: "%q", got: fmt.Sprintf("%q", s)},
		{name: "%x", got: fmt.Sprintf("%x", s)},
		{name: "%d", got: fmt.Sprintf("%d", s)},
		{name: "struct %+v", got: fmt.Sprintf("%+v", w)},
		{name: "struct %#v", got: fmt.Sprintf("%#v", w)},
		{name: "json", got: jsonOf(s)},
		{name: "json struct", got: jsonOf(w)},
		{name: "json map key", got: jsonOf(map[logging.Secret]int{s: 1})},
		{name: "slog", got: logLine(slog.Any("value", s))},
		{name: "slog struct", got: logLine(slog.Any("value", w))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if strings.Contains(tt.got, plain) || strings.Contains(tt.got, "hunter2") {
				t.Errorf("output reveals the secret: %s", tt.got)
			}
			if !strings.Contains(tt.got, logging.Redacted) {
				t.Errorf("output %q lacks %s", tt.got, logging.Redacted)
			}
		})
	}
	if s.Reveal() != plain {
		t.Errorf("Reveal() = %q, want %q", s.Reveal(), plain)
	}
	if s.IsZero() || !(logging.Secret{}).IsZero() {
		t.Errorf("IsZero wrong")
	}
}

// logLine logs attr with a plain slog JSON handler (no key redaction), so only
// the Secret's own methods keep it out.
func logLine(attr slog.Attr) string {
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("m", attr)
	return buf.String()
}
