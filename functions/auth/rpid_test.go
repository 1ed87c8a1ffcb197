package auth

import (
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/shared/bootstrap/bootstraptest"
	"github.com/gatehouse-dev/gatehouse/shared/config"
)

// The WebAuthn relying party id comes from domain origins only: an IP
// origin in GATEHOUSE_ALLOWED_ORIGINS (development: http://127.0.0.1:5173)
// does not stop the start, and an RP id that is not a registrable suffix of
// every WebAuthn origin is refused at start, naming the variables.
//
// Controls: AUTH-5
func TestWebAuthnRPID(t *testing.T) {
	public, _ := url.Parse("http://localhost:8080")
	for _, tc := range []struct {
		name     string
		allowed  []string
		cfg      ExtensionConfig
		wantRPID string
		wantErr  string // a variable the error must name
	}{
		{name: "IP origin first", allowed: []string{"http://127.0.0.1:5173", "http://localhost:5173"}, wantRPID: "localhost"},
		{name: "only IP origins", allowed: []string{"http://127.0.0.1:5173"}, wantRPID: "localhost"},
		{name: "IPv6 origin", allowed: []string{"http://[::1]:5173", "https://app.example.com"}, wantRPID: "app.example.com"},
		{name: "subdomains under an explicit RP id", allowed: []string{"https://app.example.com", "https://admin.example.com"},
			cfg: ExtensionConfig{WebAuthnRPID: "example.com"}, wantRPID: "example.com"},
		{name: "explicit RP id, other site", allowed: []string{"https://app.example.com"},
			cfg: ExtensionConfig{WebAuthnRPID: "other.com"}, wantErr: "GATEHOUSE_WEBAUTHN_RP_ID"},
		{name: "public suffix as RP id", allowed: []string{"https://app.example.co.uk"},
			cfg: ExtensionConfig{WebAuthnRPID: "co.uk"}, wantErr: "GATEHOUSE_WEBAUTHN_RP_ID"},
		{name: "IP RP id", allowed: []string{"http://127.0.0.1:5173"},
			cfg: ExtensionConfig{WebAuthnRPID: "127.0.0.1"}, wantErr: "GATEHOUSE_WEBAUTHN_RP_ID"},
		{name: "origins on two sites", allowed: []string{"https://app.example.com", "https://app.other.com"},
			wantErr: "GATEHOUSE_WEBAUTHN_ORIGINS"},
		{name: "explicit IP WebAuthn origin", allowed: []string{"https://app.example.com"},
			cfg: ExtensionConfig{WebAuthnOrigins: []string{"http://127.0.0.1:5173"}}, wantErr: "GATEHOUSE_WEBAUTHN_ORIGINS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.cfg.withDefaults(config.Base{AllowedOrigins: tc.allowed, PublicURL: public})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one naming %s", err, tc.wantErr)
				}
				return
			}
			if err != nil || got.WebAuthnRPID != tc.wantRPID {
				t.Fatalf("RP id %q, err %v; want %q", got.WebAuthnRPID, err, tc.wantRPID)
			}
		})
	}
	// The whole function starts with an IP origin first.
	env := bootstraptest.New(t, bootstraptest.SQLite(t))
	env.Deps.Config.AllowedOrigins = []string{"http://127.0.0.1:5173", "http://localhost:5173"}
	if _, err := New(env.Deps, Config{}); err != nil {
		t.Fatalf("start with an IP origin: %v", err)
	}
}
