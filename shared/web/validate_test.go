package web_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/shared/web"
)

// Controls: APP-1
func TestValidEmail(t *testing.T) {
	long := strings.Repeat("a", 64)
	tests := []struct {
		name  string
		email string
		want  bool
	}{
		{name: "simple", email: "alice@example.com", want: true},
		{name: "subdomain", email: "a.b+tag@mail.example.co.uk", want: true},
		{name: "atext symbols", email: "o'neil_x-y=z@ex-ample.io", want: true},
		{name: "digits in domain", email: "a@123.example.com", want: true},
		{name: "local 64", email: long + "@example.com", want: true},
		{name: "local 65", email: long + "a@example.com", want: false},
		{name: "total 254", email: long + "@" + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 57) + ".com", want: true},
		{name: "total 255", email: long + "@" + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 58) + ".com", want: false},
		{name: "label 64", email: "a@" + strings.Repeat("b", 64) + ".com", want: false},
		{name: "empty", email: "", want: false},
		{name: "no at", email: "alice.example.com", want: false},
		{name: "two ats", email: "a@b@example.com", want: false},
		{name: "no local", email: "@example.com", want: false},
		{name: "no domain", email: "alice@", want: false},
		{name: "single label", email: "alice@localhost", want: false},
		{name: "leading dot", email: ".a@example.com", want: false},
		{name: "double dot", email: "a..b@example.com", want: false},
		{name: "trailing dot domain", email: "a@example.com.", want: false},
		{name: "hyphen edge", email: "a@-example.com", want: false},
		{name: "numeric tld", email: "a@1.2.3.4", want: false},
		{name: "ip literal", email: "a@[127.0.0.1]", want: false},
		{name: "space", email: "a b@example.com", want: false},
		{name: "quoted", email: `"a"@example.com`, want: false},
		{name: "display name", email: "Alice <a@example.com>", want: false},
		{name: "newline", email: "a@example.com\n", want: false},
		{name: "unicode", email: "ä@example.com", want: false},
		{name: "underscore in domain", email: "a@ex_ample.com", want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := web.ValidEmail(tt.email); got != tt.want {
				t.Errorf("ValidEmail(%q) = %v, want %v", tt.email, got, tt.want)
			}
		})
	}
}

// Controls: APP-1
func TestValidator(t *testing.T) {
	tests := []struct {
		name   string
		check  func(v *web.Validator)
		fields map[string]string // nil: valid
	}{
		{name: "all good", check: func(v *web.Validator) {
			v.Email("email", "a@example.com")
			v.Length("name", "Ållan", 1, 5)
			v.OneOf("role", "admin", "admin", "viewer")
			v.Require(true, "x", "never")
		}},
		{name: "require", check: func(v *web.Validator) { v.Require(false, "terms", "must be accepted") },
			fields: map[string]string{"terms": "must be accepted"}},
		{name: "email missing", check: func(v *web.Validator) { v.Email("email", "") },
			fields: map[string]string{"email": "is required"}},
		{name: "email bad", check: func(v *web.Validator) { v.Email("email", "nope") },
			fields: map[string]string{"email": "must be a valid email address"}},
		{name: "length counts characters", check: func(v *web.Validator) { v.Length("name", "ÅÅÅÅÅÅ", 1, 5) },
			fields: map[string]string{"name": "must be between 1 and 5 characters"}},
		{name: "length too short", check: func(v *web.Validator) { v.Length("pin", "12", 4, 4) },
			fields: map[string]string{"pin": "must be exactly 4 characters"}},
		{name: "length missing", check: func(v *web.Validator) { v.Length("name", "", 1, 5) },
			fields: map[string]string{"name": "is required"}},
		{name: "length optional", check: func(v *web.Validator) { v.Length("bio", "", 0, 5) }},
		{name: "length at most", check: func(v *web.Validator) { v.Length("bio", "toolong", 0, 5) },
			fields: map[string]string{"bio": "must be at most 5 characters"}},
		{name: "length invalid utf-8", check: func(v *web.Validator) { v.Length("name", "\xff", 0, 5) },
			fields: map[string]string{"name": "must be valid UTF-8"}},
		{name: "enum", check: func(v *web.Validator) { v.OneOf("role", "owner", "admin", "viewer") },
			fields: map[string]string{"role": "must be one of: admin, viewer"}},
		{name: "enum is case sensitive", check: func(v *web.Validator) { v.OneOf("role", "Admin", "admin") },
			fields: map[string]string{"role": "must be one of: admin"}},
		{name: "first problem per field wins", check: func(v *web.Validator) {
			v.Length("email", "", 1, 254)
			v.Email("email", "")
		}, fields: map[string]string{"email": "is required"}},
		{name: "several fields", check: func(v *web.Validator) {
			v.Email("email", "x")
			v.OneOf("role", "x", "admin")
		}, fields: map[string]string{"email": "must be a valid email address", "role": "must be one of: admin"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := web.NewValidator()
			tt.check(v)
			err := v.Err()
			if tt.fields == nil {
				if err != nil || !v.Valid() {
					t.Fatalf("Err() = %v, want nil", err)
				}
				return
			}
			var e *web.Error
			if !errors.As(err, &e) || e.Status != 400 || e.Code != "invalid_request" {
				t.Fatalf("Err() = %v, want 400 invalid_request", err)
			}
			if len(e.Fields) != len(tt.fields) {
				t.Errorf("fields = %v, want %v", e.Fields, tt.fields)
			}
			for k, want := range tt.fields {
				if e.Fields[k] != want {
					t.Errorf("fields[%q] = %q, want %q", k, e.Fields[k], want)
				}
			}
		})
	}
}

func TestZeroValidatorUsable(t *testing.T) {
	var v web.Validator
	v.Require(false, "a", "bad")
	if v.Err() == nil {
		t.Error("zero Validator lost a problem")
	}
}
