package oauthtest

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// oauthError is an RFC 6749 section 5.2 error response.
func oauthError(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code})
}

// authenticate returns the client id of a request authenticated with HTTP
// Basic (form-encoded id and secret, RFC 6749 section 2.3.1) or with
// client_id and client_secret in the body, not both.
func (s *Server) authenticate(r *http.Request) (string, bool) {
	id, secret, basic := r.BasicAuth()
	if basic {
		if r.PostForm.Has("client_secret") {
			return "", false
		}
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
	} else {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	c, ok := s.clients[id]
	return id, ok && secret != "" && subtle.ConstantTimeCompare([]byte(secret), []byte(c.secret)) == 1
}

func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request")
		return
	}
	switch r.PostForm.Get("grant_type") {
	case "authorization_code":
		s.exchanges.Add(1)
		s.exchange(w, r)
	case "refresh_token":
		s.refreshCalls.Add(1)
		if s.opts.RefreshDelay > 0 {
			time.Sleep(s.opts.RefreshDelay)
		}
		s.refreshGrant(w, r)
	default:
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type")
	}
}

// exchange redeems a code. A code used twice revokes every token issued
// from it (RFC 6749 section 4.1.2).
func (s *Server) exchange(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	clientID, ok := s.authenticate(r)
	if !ok {
		oauthError(w, http.StatusUnauthorized, "invalid_client")
		return
	}
	g, ok := s.codes[r.PostForm.Get("code")]
	switch {
	case !ok || g.client != clientID || g.revoked:
		oauthError(w, http.StatusBadRequest, "invalid_grant")
		return
	case g.codeUsed:
		g.revoked = true
		oauthError(w, http.StatusBadRequest, "invalid_grant")
		return
	}
	g.codeUsed = true
	verifier := r.PostForm.Get("code_verifier")
	if s.opts.Now().Sub(g.issued) > time.Minute || r.PostForm.Get("redirect_uri") != g.redirect ||
		verifier == "" || s256(verifier) != g.challenge {
		oauthError(w, http.StatusBadRequest, "invalid_grant")
		return
	}
	s.issue(w, g, true)
}

func s256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// refreshGrant redeems a refresh token, rotating it if configured.
func (s *Server) refreshGrant(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	clientID, ok := s.authenticate(r)
	if !ok {
		oauthError(w, http.StatusUnauthorized, "invalid_client")
		return
	}
	if code := s.failNext; code != "" {
		s.failNext = ""
		status := http.StatusBadRequest
		if code == "server_error" {
			status = http.StatusServiceUnavailable
		}
		oauthError(w, status, code)
		return
	}
	t, ok := s.refresh[r.PostForm.Get("refresh_token")]
	switch {
	case !ok || t.g.client != clientID || t.g.revoked:
		oauthError(w, http.StatusBadRequest, "invalid_grant")
		return
	case t.used:
		t.g.revoked = true // reuse of a rotated token revokes the grant
		oauthError(w, http.StatusBadRequest, "invalid_grant")
		return
	}
	if s.opts.RotateRefreshTokens {
		t.used = true
	}
	s.issue(w, t.g, s.opts.RotateRefreshTokens)
}

// longLivedGrant is Meta's GET token endpoint with
// grant_type=fb_exchange_token: the client, authenticated by client_id and
// client_secret in the query, trades a live access token of its own for a
// long-lived one (no refresh token).
func (s *Server) longLivedGrant(w http.ResponseWriter, r *http.Request) {
	s.longLived.Add(1)
	q := r.URL.Query()
	if q.Get("grant_type") != "fb_exchange_token" {
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.clients[q.Get("client_id")]
	if !ok || q.Get("client_secret") == "" || subtle.ConstantTimeCompare([]byte(q.Get("client_secret")), []byte(c.secret)) != 1 {
		oauthError(w, http.StatusUnauthorized, "invalid_client")
		return
	}
	t, ok := s.access[q.Get("fb_exchange_token")]
	if !ok || t.g.client != q.Get("client_id") || t.g.revoked || !s.opts.Now().Before(t.expires) {
		oauthError(w, http.StatusBadRequest, "invalid_grant")
		return
	}
	access := randomToken()
	s.access[access] = &token{g: t.g, expires: s.opts.Now().Add(s.opts.LongLivedTTL)}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(map[string]any{"access_token": access, "token_type": "bearer",
		"expires_in": int(s.opts.LongLivedTTL / time.Second)})
}

// issue writes a token response for g, with a new refresh token if
// withRefresh (else the response has none, as Google's refreshes do).
func (s *Server) issue(w http.ResponseWriter, g *grant, withRefresh bool) {
	access := randomToken()
	s.access[access] = &token{g: g, expires: s.opts.Now().Add(s.opts.AccessTTL)}
	resp := map[string]any{"access_token": access, "token_type": "Bearer",
		"expires_in": int(s.opts.AccessTTL / time.Second), "scope": g.scope}
	if withRefresh {
		rt := randomToken()
		s.refresh[rt] = &token{g: g}
		resp["refresh_token"] = rt
	}
	if slices.Contains(strings.Fields(g.scope), "openid") {
		idt, err := s.idToken(g)
		if err != nil {
			oauthError(w, http.StatusInternalServerError, "server_error")
			return
		}
		resp["id_token"] = idt
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(resp)
}

// revoke implements RFC 7009: revoking a refresh token revokes its grant,
// an access token only itself. Unknown tokens are not an error.
func (s *Server) revoke(w http.ResponseWriter, r *http.Request) {
	s.revocations.Add(1)
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	clientID, ok := s.authenticate(r)
	if !ok {
		oauthError(w, http.StatusUnauthorized, "invalid_client")
		return
	}
	tok := r.PostForm.Get("token")
	if t, ok := s.refresh[tok]; ok && t.g.client == clientID {
		t.g.revoked = true
	}
	if t, ok := s.access[tok]; ok && t.g.client == clientID {
		delete(s.access, tok)
	}
	w.WriteHeader(http.StatusOK)
}

// revokeBearer revokes the grant of the access token in the Authorization
// or X-Shopify-Access-Token header (Meta and Shopify style).
func (s *Server) revokeBearer(w http.ResponseWriter, r *http.Request) {
	s.revocations.Add(1)
	tok := r.Header.Get("X-Shopify-Access-Token")
	if tok == "" {
		tok = strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.access[tok]
	if !ok {
		oauthError(w, http.StatusUnauthorized, "invalid_token")
		return
	}
	t.g.revoked = true
	w.WriteHeader(http.StatusOK)
}

// shopifyHMAC is Shopify's callback MAC: hex HMAC-SHA256 of the sorted
// "key=value" pairs (hmac excluded) joined with "&".
func shopifyHMAC(secret string, q url.Values) string {
	keys := make([]string, 0, len(q))
	for k := range q {
		if k != "hmac" {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + strings.Join(q[k], ",")
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(strings.Join(parts, "&")))
	return hex.EncodeToString(m.Sum(nil))
}
