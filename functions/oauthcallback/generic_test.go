package oauthcallback

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-oauth2/oauth2/v4"
	oerrors "github.com/go-oauth2/oauth2/v4/errors"
	"github.com/go-oauth2/oauth2/v4/manage"
	"github.com/go-oauth2/oauth2/v4/models"
	oserver "github.com/go-oauth2/oauth2/v4/server"
	ostore "github.com/go-oauth2/oauth2/v4/store"

	"github.com/gatehouse-dev/gatehouse/shared/logging"
	"github.com/gatehouse-dev/gatehouse/shared/outbound/outboundtest"
	"github.com/gatehouse-dev/gatehouse/shared/provider"
	"github.com/gatehouse-dev/gatehouse/shared/store"
)

const (
	genericClient = "acme-client"
	genericSecret = "acme-client-secret-value"
	genericUser   = "acme-account-42"
)

// acmeServer is an OAuth 2.0 authorization server built from
// github.com/go-oauth2/oauth2: authorization code with PKCE forced,
// refresh tokens rotated (each refresh removes the old refresh and access
// token), client authentication by HTTP Basic, plus a userinfo endpoint
// and an RFC 7009 revocation endpoint on its token store.
type acmeServer struct {
	*httptest.Server
	manager   *manage.Manager
	srv       *oserver.Server
	refreshes atomic.Int64
	revoked   atomic.Int64
}

func newAcmeServer(t *testing.T) *acmeServer {
	t.Helper()
	m := manage.NewDefaultManager()
	m.SetAuthorizeCodeTokenCfg(&manage.Config{AccessTokenExp: time.Hour, RefreshTokenExp: 30 * 24 * time.Hour, IsGenerateRefresh: true})
	m.SetRefreshTokenCfg(&manage.RefreshingConfig{AccessTokenExp: time.Hour, IsGenerateRefresh: true,
		IsRemoveAccess: true, IsRemoveRefreshing: true})
	m.MustTokenStorage(ostore.NewMemoryTokenStore())
	clients := ostore.NewClientStore()
	if err := clients.Set(genericClient, &models.Client{ID: genericClient, Secret: genericSecret, Domain: callbackBase}); err != nil {
		t.Fatal(err)
	}
	m.MapClientStorage(clients)
	srv := oserver.NewServer(&oserver.Config{TokenType: "Bearer",
		AllowedResponseTypes:        []oauth2.ResponseType{oauth2.Code},
		AllowedGrantTypes:           []oauth2.GrantType{oauth2.AuthorizationCode, oauth2.Refreshing},
		AllowedCodeChallengeMethods: []oauth2.CodeChallengeMethod{oauth2.CodeChallengeS256},
		ForcePKCE:                   true}, m)
	srv.SetClientInfoHandler(oserver.ClientBasicHandler)
	srv.SetUserAuthorizationHandler(func(http.ResponseWriter, *http.Request) (string, error) { return genericUser, nil })
	a := &acmeServer{manager: m, srv: srv}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /authorize", func(w http.ResponseWriter, r *http.Request) {
		if err := srv.HandleAuthorizeRequest(w, r); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
		}
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		if r.FormValue("grant_type") == "refresh_token" {
			a.refreshes.Add(1)
		}
		_ = srv.HandleTokenRequest(w, r)
	})
	mux.HandleFunc("GET /userinfo", func(w http.ResponseWriter, r *http.Request) {
		ti, err := srv.ValidationBearerToken(r)
		if err != nil {
			http.Error(w, "invalid token", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"sub": ti.GetUserID(), "name": "Acme Corp"})
	})
	mux.HandleFunc("POST /revoke", a.revoke)
	a.Server = httptest.NewServer(mux)
	t.Cleanup(a.Close)
	return a
}

// revoke is RFC 7009 on the token store: the client authenticates, the
// grant of the token (access or refresh) is removed; an unknown token is
// no error.
func (a *acmeServer) revoke(w http.ResponseWriter, r *http.Request) {
	id, secret, ok := r.BasicAuth()
	if !ok || id != genericClient || secret != genericSecret {
		http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
		return
	}
	tok, ctx := r.PostFormValue("token"), r.Context()
	// Revoking either token of a grant ends the grant (RFC 7009 section 2.1).
	ti, err := a.manager.LoadRefreshToken(ctx, tok)
	if err != nil {
		ti, err = a.manager.LoadAccessToken(ctx, tok)
	}
	if err == nil && ti != nil {
		_ = a.manager.RemoveAccessToken(ctx, ti.GetAccess())
		_ = a.manager.RemoveRefreshToken(ctx, ti.GetRefresh())
		a.revoked.Add(1)
	}
	w.WriteHeader(http.StatusOK)
}

// live reports whether access is a live access token at the server.
func (a *acmeServer) live(access string) bool {
	ti, err := a.manager.LoadAccessToken(context.Background(), access)
	return err == nil && ti != nil
}

// definitions is the GATEHOUSE_OAUTH_PLATFORMS value for a.
func (a *acmeServer) definitions() string {
	return `[{"name":"acme_crm","display_name":"Acme CRM",
		"authorization_url":"` + a.URL + `/authorize","token_url":"` + a.URL + `/token",
		"revocation_url":"` + a.URL + `/revoke","userinfo_url":"` + a.URL + `/userinfo",
		"scopes":["crm.read","reports.read"],"authorization_params":{"audience":"crm"},
		"client_auth":"basic","rotates_refresh_tokens":true}]`
}

// withAcme rebuilds e's handler with the acme_crm platform defined by
// configuration alone.
func (e *testEnv) withAcme(t *testing.T, a *acmeServer) {
	t.Helper()
	cfg := e.config(t)
	cfg.Outbound = outboundtest.Client(t, e.srv.Server, e.shopSrv.Server, a.Server)
	defined, err := provider.ParseDefinitions([]byte(a.definitions()), false)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Defined = defined
	cfg.Platforms["acme_crm"] = provider.Settings{ClientID: genericClient, ClientSecret: logging.NewSecret(genericSecret)}
	e.Logs.Plant(genericSecret)
	if e.h, err = New(e.Deps, cfg); err != nil {
		t.Fatal(err)
	}
}

// A platform defined entirely by configuration connects against a real
// OAuth 2.0 server (go-oauth2 with PKCE forced and rotating refresh
// tokens): the authorization request carries S256 PKCE, the configured
// scopes and parameters; the account comes from the userinfo endpoint; a
// job lists the organization's connections and gets tokens through the
// broker's service-authenticated API; two refreshes in a row work only
// because the rotated refresh token was stored; disconnecting revokes at
// the server.
//
// Controls: OAUTH-1, OAUTH-2, OAUTH-5, CRED-6, CRED-7
func TestDefinedPlatform(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *testEnv) {
		a := newAcmeServer(t)
		e.withAcme(t, a)
		f := e.start(t, e.users["admin"], "acme_crm", "org="+orgA+"&return_to=/settings/integrations")
		q := f.authURL.Query()
		if q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || q.Get("scope") != "crm.read reports.read" ||
			q.Get("audience") != "crm" || q.Get("client_id") != genericClient {
			t.Fatalf("authorization request %v", q)
		}
		back := redirectQuery(t, e.finish(t, "acme_crm", f.callback, f.cookie))
		id := back.Get("connection")
		if back.Get("oauth_connected") != "acme_crm" || id == "" {
			t.Fatalf("redirect back %v", back)
		}

		// A job finds the connection without a browser session.
		broker := []string{"Authorization", "Bearer " + brokerSecret}
		if rec := e.do(t, http.MethodGet, "/internal/connections?org_id="+orgA, ""); rec.Code != http.StatusUnauthorized {
			t.Fatalf("list without a service credential: %d", rec.Code)
		}
		rec := e.do(t, http.MethodGet, "/internal/connections?org_id="+orgA, "", broker...)
		var list struct {
			Connections []connectionJSON `json:"connections"`
		}
		if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &list) != nil || len(list.Connections) != 1 ||
			list.Connections[0].ID != id || list.Connections[0].Account != genericUser || list.Connections[0].Platform != "acme_crm" {
			t.Fatalf("internal list: %d %s", rec.Code, rec.Body)
		}
		if rec := e.do(t, http.MethodGet, "/internal/connections?org_id="+orgB, "", broker...); rec.Code != http.StatusOK ||
			strings.Contains(rec.Body.String(), id) {
			t.Fatalf("org B's list shows org A's connection: %s", rec.Body)
		}

		token := func() string {
			t.Helper()
			rec := e.do(t, http.MethodPost, "/internal/token", `{"org_id":"`+orgA+`","connection_id":"`+id+`"}`,
				append(broker, "Content-Type", "application/json")...)
			var body struct {
				AccessToken string `json:"access_token"`
			}
			if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &body) != nil || !a.live(body.AccessToken) {
				t.Fatalf("broker token: %d %s", rec.Code, rec.Body)
			}
			e.Logs.Plant(body.AccessToken)
			return body.AccessToken
		}
		first := token()
		for i := range 2 {
			e.Clock.Advance(400 * time.Hour) // past the stored expiry (the server's clock is real time)
			next := token()
			if next == first || a.live(first) {
				t.Fatalf("refresh %d did not rotate the access token", i+1)
			}
			first = next
		}
		if a.refreshes.Load() != 2 {
			t.Fatalf("%d refresh grants, want 2", a.refreshes.Load())
		}

		admin := e.signIn(t, "user-admin") // the clock moved past the first session's lifetime
		rec = e.do(t, http.MethodPost, "/connections/"+id+"/disconnect?org="+orgA, "", bearer(admin)...)
		if rec.Code != http.StatusNoContent && rec.Code != http.StatusOK {
			t.Fatalf("disconnect: %d %s", rec.Code, rec.Body)
		}
		if a.revoked.Load() == 0 || a.live(first) {
			t.Fatalf("not revoked at the server (%d revocations)", a.revoked.Load())
		}
		cs := e.connections(t, orgA)
		if len(cs) != 1 || cs[0].Status != store.ConnectionRevoked {
			t.Fatalf("after disconnect: %+v", cs)
		}
	})
}

// The server refuses a token request without the PKCE verifier, so the
// flow above passing proves the verifier was sent; and a definition that
// turns PKCE off leaves the challenge out.
func TestDefinedPlatformPKCE(t *testing.T) {
	a := newAcmeServer(t)
	ps, err := provider.ParseDefinitions([]byte(strings.Replace(a.definitions(), `"client_auth"`, `"pkce":false,"client_auth"`, 1)), false)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := provider.NewRegistry(ps, map[string]provider.Settings{"acme_crm": {ClientID: genericClient, ClientSecret: logging.NewSecret(genericSecret)}})
	if err != nil {
		t.Fatal(err)
	}
	p, _ := reg.Lookup("acme_crm")
	cfg, _ := p.Config(callbackBase+"/callback/acme_crm", "")
	if u := p.AuthCodeURL(cfg, "state", "verifier-verifier-verifier-verifier-verifier"); strings.Contains(u, "code_challenge") {
		t.Fatalf("pkce false still sends a challenge: %s", u)
	}
	_, err = a.srv.GetAccessToken(context.Background(), oauth2.AuthorizationCode, &oauth2.TokenGenerateRequest{
		ClientID: genericClient, ClientSecret: genericSecret, Code: "unknown", RedirectURI: callbackBase + "/callback/acme_crm"})
	if err == nil || !errors.Is(err, oerrors.ErrInvalidGrant) && !strings.Contains(err.Error(), "invalid") {
		t.Fatalf("token request for an unknown code: %v", err)
	}
}
