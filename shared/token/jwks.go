package token

import (
	"context"
	"encoding/base64"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/gatehouse-dev/gatehouse/shared/web"
)

// JWK is one public key in RFC 8037 form (kty OKP, crv Ed25519).
type JWK struct {
	KeyType   string `json:"kty"`
	Curve     string `json:"crv"`
	X         string `json:"x"`
	KeyID     string `json:"kid"`
	Algorithm string `json:"alg"`
	Use       string `json:"use"`
}

// JWKS is a JSON Web Key Set (RFC 7517).
type JWKS struct {
	Keys []JWK `json:"keys"`
}

// JWKS returns every published key: those signing now, those about to,
// and those whose tokens may still be valid.
func (s *Signer) JWKS(ctx context.Context) (JWKS, error) {
	if err := s.maybeReload(ctx, s.opts.Now()); err != nil {
		return JWKS{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	set := JWKS{Keys: make([]JWK, 0, len(s.keys))}
	for _, k := range s.keys {
		set.Keys = append(set.Keys, JWK{KeyType: "OKP", Curve: "Ed25519", KeyID: k.ID, Algorithm: "EdDSA", Use: "sig",
			X: base64.RawURLEncoding.EncodeToString(k.PublicKey)})
	}
	return set, nil
}

// jwksMaxAge is how long clients may cache the key set. It must stay below
// the publish delay, so a cached set always holds the key about to sign.
const jwksMaxAge = 300

// Handler serves the key set (GET /.well-known/jwks.json), cacheable for
// five minutes; 503 if the keys cannot be loaded.
func (s *Signer) Handler(logger *slog.Logger) http.Handler {
	return web.Handler(logger, func(w http.ResponseWriter, r *http.Request) error {
		set, err := s.JWKS(r.Context())
		if err != nil {
			return web.Unavailable(err)
		}
		w.Header().Set("Cache-Control", "public, max-age="+strconv.Itoa(jwksMaxAge))
		return web.WriteJSON(w, http.StatusOK, set)
	})
}
