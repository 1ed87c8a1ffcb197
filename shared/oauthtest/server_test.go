package oauthtest

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"testing"

	"golang.org/x/oauth2"
)

const redirect = "https://client.example.com/cb"

func setup(t *testing.T, opts Options) (*Server, *oauth2.Config, context.Context) {
	s := New(t, opts)
	s.AddClient("cid", "csecret", redirect)
	cfg := &oauth2.Config{ClientID: "cid", ClientSecret: "csecret", RedirectURL: redirect, Scopes: []string{"read"},
		Endpoint: oauth2.Endpoint{AuthURL: s.AuthURL(), TokenURL: s.TokenURL(), AuthStyle: oauth2.AuthStyleInParams}}
	return s, cfg, context.WithValue(context.Background(), oauth2.HTTPClient, s.Client())
}

// authorize runs the authorization request and returns the redirect's query.
func authorize(t *testing.T, s *Server, authURL string) url.Values {
	t.Helper()
	c := s.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || err != nil {
		t.Fatalf("authorize: status %d, Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	return loc.Query()
}

func isOAuthError(err error, code string) bool {
	var re *oauth2.RetrieveError
	return errors.As(err, &re) && re.ErrorCode == code
}

// Controls: OAUTH-2
func TestCodeFlowNeedsPKCE(t *testing.T) {
	s, cfg, ctx := setup(t, Options{Issuer: true})
	verifier := oauth2.GenerateVerifier()
	if q := authorize(t, s, cfg.AuthCodeURL("st")); q.Get("error") != "invalid_request" {
		t.Fatalf("authorization without PKCE: %v", q)
	}
	for _, tc := range []struct {
		name string
		opts []oauth2.AuthCodeOption
	}{
		{"missing verifier", nil},
		{"wrong verifier", []oauth2.AuthCodeOption{oauth2.VerifierOption(oauth2.GenerateVerifier())}},
	} {
		q := authorize(t, s, cfg.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier)))
		if _, err := cfg.Exchange(ctx, q.Get("code"), tc.opts...); !isOAuthError(err, "invalid_grant") {
			t.Fatalf("%s: err = %v, want invalid_grant", tc.name, err)
		}
	}
	q := authorize(t, s, cfg.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier)))
	if q.Get("state") != "st" || q.Get("iss") != s.Issuer() {
		t.Fatalf("authorization response %v", q)
	}
	tok, err := cfg.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil || tok.RefreshToken == "" || !s.AccessTokenValid(tok.AccessToken) {
		t.Fatalf("Exchange = %+v, %v", tok, err)
	}
	// Replaying the code fails and revokes what it issued.
	if _, err := cfg.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier)); !isOAuthError(err, "invalid_grant") {
		t.Fatalf("code replay: err = %v", err)
	}
	if s.AccessTokenValid(tok.AccessToken) {
		t.Fatal("code replay did not revoke the grant")
	}
}

// Controls: CRED-7
func TestRefreshRotationAndRevocation(t *testing.T) {
	s, cfg, ctx := setup(t, Options{RotateRefreshTokens: true})
	verifier := oauth2.GenerateVerifier()
	q := authorize(t, s, cfg.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier)))
	tok, err := cfg.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	if err != nil || fresh.RefreshToken == tok.RefreshToken || s.RefreshCalls() != 1 {
		t.Fatalf("refresh = %+v, %v (calls %d)", fresh, err, s.RefreshCalls())
	}
	if _, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); !isOAuthError(err, "invalid_grant") {
		t.Fatalf("reuse of rotated refresh token: err = %v", err)
	}
	if s.AccessTokenValid(fresh.AccessToken) {
		t.Fatal("reuse of a rotated refresh token did not revoke the grant")
	}
	s.FailNextRefresh("server_error")
	if _, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: fresh.RefreshToken}).Token(); err == nil {
		t.Fatal("FailNextRefresh had no effect")
	}
}
