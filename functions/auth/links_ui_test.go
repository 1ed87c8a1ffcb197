package auth

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/shared/bootstrap/bootstraptest"
	"github.com/gatehouse-dev/gatehouse/shared/notify"
)

// Mailed links point at the hosted pages by default (the public URL +
// /auth/ui), and each names a page the function serves; GATEHOUSE_AUTH_LINK_URL
// points them at the SaaS's own pages instead.
func TestMailedLinksPointAtHostedPages(t *testing.T) {
	custom, _ := url.Parse("https://app.example.com/account")
	tests := []struct {
		name string
		base *url.URL
		want string
	}{
		{"hosted pages by default", nil, "https://gatehouse.example.com/auth/ui"},
		{"the SaaS's own pages", custom, "https://app.example.com/account"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			te := newTestEnv(t, bootstraptest.Backends[0], func(c *Config, _ *Extension) { c.LinkBase = tc.base })
			const email = "lee@example.com"
			te.signUp(t, email, testPassword)
			te.do(t, "POST", "/magic-link", map[string]string{"email": email})
			te.do(t, "POST", "/password/reset", map[string]string{"email": email})
			for kind, page := range map[string]string{notify.KindEmailVerification: "/signup/confirm",
				notify.KindMagicLink: "/magic-link", notify.KindPasswordReset: "/reset-password"} {
				link := te.lastMessage(t, email, kind).Links[0]
				if !strings.HasPrefix(link, tc.want+page+"#token=") {
					t.Errorf("%s link %q, want %s%s#token=...", kind, link, tc.want, page)
				}
				if rec := te.do(t, "GET", "/ui"+page, nil); rec.Code != http.StatusOK {
					t.Errorf("the hosted page %s answers %d", page, rec.Code)
				}
			}
			if inv := te.Server.cfg.Extension.InvitationURL; inv != tc.want+"/invitations/accept" {
				t.Errorf("invitation URL %q", inv)
			}
		})
	}
}
