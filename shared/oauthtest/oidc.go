package oauthtest

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"strings"
)

const keyID = "oauthtest-1"

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Server) discovery(w http.ResponseWriter, _ *http.Request) {
	s.discoveries.Add(1)
	writeJSON(w, map[string]any{
		"issuer": s.URL, "authorization_endpoint": s.AuthURL(), "token_endpoint": s.TokenURL(),
		"jwks_uri": s.URL + "/jwks", "userinfo_endpoint": s.URL + "/userinfo", "revocation_endpoint": s.RevokeURL(),
		"response_types_supported": []string{"code"}, "subject_types_supported": []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256"}, "code_challenge_methods_supported": []string{"S256"},
		"authorization_response_iss_parameter_supported": s.opts.Issuer,
	})
}

func (s *Server) jwks(w http.ResponseWriter, _ *http.Request) {
	s.keyFetches.Add(1)
	pub := s.key.PublicKey
	writeJSON(w, map[string]any{"keys": []map[string]string{{
		"kty": "RSA", "alg": "RS256", "use": "sig", "kid": keyID,
		"n": b64(pub.N.Bytes()), "e": b64(big.NewInt(int64(pub.E)).Bytes()),
	}}})
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// idToken signs an RS256 ID token for g as the current user. The caller
// holds s.mu.
func (s *Server) idToken(g *grant) (string, error) {
	now := s.opts.Now()
	claims := map[string]any{
		"iss": s.URL, "sub": s.user.Subject, "aud": g.client, "iat": now.Unix(), "exp": now.Add(s.opts.AccessTTL).Unix(),
		"email": s.user.Email, "email_verified": s.user.EmailVerified,
	}
	if g.nonce != "" {
		claims["nonce"] = g.nonce
	}
	if s.forgeIDToken != nil {
		return s.forgeIDToken(claims, s.sign)
	}
	return s.sign(claims)
}

// ForgeIDTokens makes the token endpoint issue ID tokens built by forge
// from the claims it would have signed, and sign (the server's own key),
// which forge may skip to sign with another key; nil restores honest
// tokens. It lets tests play a provider whose ID tokens are for another
// audience, from another issuer, expired or badly signed.
func (s *Server) ForgeIDTokens(forge func(claims map[string]any, sign func(map[string]any) (string, error)) (string, error)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.forgeIDToken = forge
}

// SignWithKey signs claims as an RS256 ID token under key, with the
// server's key id (a forgery the JWKS does not vouch for).
func SignWithKey(key *rsa.PrivateKey, claims map[string]any) (string, error) {
	return signRS256(key, claims)
}

// SignIDToken signs arbitrary claims with the server's key, for tests that
// need a forged-but-well-signed or otherwise unusual ID token.
func (s *Server) SignIDToken(claims map[string]any) (string, error) { return s.sign(claims) }

func (s *Server) sign(claims map[string]any) (string, error) { return signRS256(s.key, claims) }

func signRS256(key *rsa.PrivateKey, claims map[string]any) (string, error) {
	header, _ := json.Marshal(map[string]string{"alg": "RS256", "typ": "JWT", "kid": keyID})
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	signing := b64(header) + "." + b64(payload)
	sum := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		return "", err
	}
	return signing + "." + b64(sig), nil
}

// bearerUser returns the user if the request carries a live access token.
func (s *Server) bearerUser(r *http.Request) (User, bool) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		tok, ok = strings.CutPrefix(r.Header.Get("Authorization"), "token ")
	}
	if !ok || !s.AccessTokenValid(tok) {
		return User{}, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.user, true
}

func (s *Server) userinfo(w http.ResponseWriter, r *http.Request) {
	u, ok := s.bearerUser(r)
	if !ok {
		oauthError(w, http.StatusUnauthorized, "invalid_token")
		return
	}
	writeJSON(w, map[string]any{"sub": u.Subject, "email": u.Email, "email_verified": u.EmailVerified})
}

// githubUser answers like GitHub's GET /user.
func (s *Server) githubUser(w http.ResponseWriter, r *http.Request) {
	u, ok := s.bearerUser(r)
	if !ok {
		oauthError(w, http.StatusUnauthorized, "invalid_token")
		return
	}
	writeJSON(w, map[string]any{"id": u.GitHubID, "login": "octo"})
}

// githubEmails answers like GitHub's GET /user/emails.
func (s *Server) githubEmails(w http.ResponseWriter, r *http.Request) {
	u, ok := s.bearerUser(r)
	if !ok {
		oauthError(w, http.StatusUnauthorized, "invalid_token")
		return
	}
	writeJSON(w, []map[string]any{{"email": u.Email, "primary": true, "verified": u.EmailVerified}})
}
