package logging_test

import (
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/shared/logging"
	"github.com/gatehouse-dev/gatehouse/shared/logging/logtest"
)

// Controls: AUDIT-2, CRED-4
func TestSensitiveKey(t *testing.T) {
	tests := []struct {
		name string
		key  string
		want bool
	}{
		{name: "password", key: "password", want: true},
		{name: "upper", key: "PASSWORD", want: true},
		{name: "compound", key: "new_password", want: true},
		{name: "password hash", key: "passwordHash", want: true},
		{name: "passwd", key: "passwd", want: true},
		{name: "pwd word", key: "user_pwd", want: true},
		{name: "access token camel", key: "accessToken", want: true},
		{name: "refresh token snake", key: "refresh_token", want: true},
		{name: "csrf header", key: "X-CSRF-Token", want: true},
		{name: "csrf alone", key: "csrf", want: true},
		{name: "client secret", key: "ClientSecret", want: true},
		{name: "authorization header", key: "Authorization", want: true},
		{name: "proxy authorization", key: "Proxy-Authorization", want: true},
		{name: "cookie", key: "Cookie", want: true},
		{name: "set cookie", key: "Set-Cookie", want: true},
		{name: "code alone", key: "code", want: true},
		{name: "totp code", key: "totp_code", want: true},
		{name: "auth code", key: "authCode", want: true},
		{name: "recovery code", key: "recovery-code", want: true},
		{name: "otp", key: "otp", want: true},
		{name: "key alone", key: "key", want: true},
		{name: "private key", key: "private_key", want: true},
		{name: "privatekey one word", key: "privatekey", want: true},
		{name: "api key acronym", key: "APIKey", want: true},
		{name: "data key", key: "dataKey", want: true},
		{name: "kek", key: "kek", want: true},
		{name: "credentials", key: "credentials", want: true},
		{name: "card number", key: "card_number", want: true},
		{name: "cvc", key: "cvc", want: true},
		{name: "status code", key: "status_code", want: false},
		{name: "http code camel", key: "httpCode", want: false},
		{name: "error code", key: "error.code", want: false},
		{name: "key id", key: "key_id", want: false},
		{name: "data key id", key: "dataKeyID", want: false},
		{name: "key version", key: "key-version", want: false},
		{name: "email", key: "email", want: false},
		{name: "user id", key: "user_id", want: false},
		{name: "keyboard is one word", key: "keyboard", want: false},
		{name: "message", key: "message", want: false},
		{name: "trace", key: "logging.googleapis.com/trace", want: false},
		{name: "empty", key: "", want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := logging.SensitiveKey(tt.key); got != tt.want {
				t.Errorf("SensitiveKey(%q) = %v, want %v", tt.key, got, tt.want)
			}
		})
	}
}

type loginForm struct {
	Email    string            `json:"email"`
	Password string            `json:"password"`
	Extra    map[string]string `json:"extra"`
}

// Controls: AUDIT-2, CRED-4
func TestHandlerRedactsSensitiveAttributes(t *testing.T) {
	const secret = "s3cr3t-Value-42"
	tests := []struct {
		name string
		log  func(l *slog.Logger)
	}{
		{name: "top level", log: func(l *slog.Logger) { l.Info("m", "password", secret) }},
		{name: "case insensitive", log: func(l *slog.Logger) { l.Info("m", "AccessToken", secret) }},
		{name: "nested key in group", log: func(l *slog.Logger) { l.Info("m", slog.Group("oauth", "refresh_token", secret)) }},
		{name: "group named secret", log: func(l *slog.Logger) { l.Info("m", slog.Group("credentials", "value", secret)) }},
		{name: "deep group", log: func(l *slog.Logger) {
			l.Info("m", slog.Group("a", slog.Group("b", slog.Group("secret", "x", secret))))
		}},
		{name: "WithGroup", log: func(l *slog.Logger) { l.WithGroup("cookie").Info("m", "v", secret) }},
		{name: "With", log: func(l *slog.Logger) { l.With("totp_code", secret).Info("m") }},
		{name: "non-string value", log: func(l *slog.Logger) { l.Info("m", "token", []byte(secret)) }},
		{name: "struct field", log: func(l *slog.Logger) {
			l.Info("m", "form", loginForm{Email: "a@b.c", Password: secret})
		}},
		{name: "map in struct", log: func(l *slog.Logger) {
			l.Info("m", "form", &loginForm{Extra: map[string]string{"client_secret": secret}})
		}},
		{name: "http header", log: func(l *slog.Logger) {
			l.Info("m", "headers", http.Header{"Authorization": {"Bearer " + secret}})
		}},
		{name: "slice of maps", log: func(l *slog.Logger) {
			l.Info("m", "items", []map[string]any{{"ok": 1}, {"api_key": secret}})
		}},
		{name: "secret type under innocent key", log: func(l *slog.Logger) { l.Info("m", "v", logging.NewSecret(secret)) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, logs := logtest.New(t)
			logs.Plant(secret)
			tt.log(l)
			raw := logs.Raw()
			if len(raw) != 1 || !strings.Contains(raw[0], logging.Redacted) {
				t.Errorf("want one line with %s, got %q", logging.Redacted, raw)
			}
		})
	}
}

func TestHandlerKeepsOrdinaryValues(t *testing.T) {
	l, logs := logtest.New(t)
	l.Info("m", "status_code", 401, "key_id", "dk-1", "form", loginForm{Email: "a@b.c"},
		"err", errors.New("boom"))
	es := logs.Find("m")
	if len(es) != 1 {
		t.Fatalf("got %d entries", len(es))
	}
	e := es[0]
	form, _ := e["form"].(map[string]any)
	if e["status_code"] != float64(401) || e.String("key_id") != "dk-1" || e.String("err") != "boom" || form["email"] != "a@b.c" {
		t.Errorf("ordinary values changed: %v", e)
	}
	if form["password"] != logging.Redacted {
		t.Errorf("password field of struct = %v, want redacted", form["password"])
	}
}
