package auth

import (
	"net/http"
	"strings"

	"github.com/gatehouse-dev/gatehouse/shared/web"
)

// metadata is the authorization server metadata (RFC 8414), which is also
// a valid OpenID Connect discovery document: the issuer, its keys, the
// introspection and revocation endpoints and the signing algorithm, so
// stock libraries (go-oidc, openid-client) find what they need to verify
// Gatehouse access tokens. Gatehouse has no authorization endpoint (sign-in
// is its API), hence response type "none".
type metadata struct {
	Issuer                   string   `json:"issuer"`
	JWKSURI                  string   `json:"jwks_uri"`
	IntrospectionEndpoint    string   `json:"introspection_endpoint"`
	IntrospectionAuthMethods []string `json:"introspection_endpoint_auth_methods_supported"`
	RevocationEndpoint       string   `json:"revocation_endpoint"`
	RevocationAuthMethods    []string `json:"revocation_endpoint_auth_methods_supported"`
	ResponseTypes            []string `json:"response_types_supported"`
	SubjectTypes             []string `json:"subject_types_supported"`
	IDTokenSigningAlgs       []string `json:"id_token_signing_alg_values_supported"`
	AccessTokenSigningAlgs   []string `json:"access_token_signing_alg_values_supported"`
	ClaimsSupported          []string `json:"claims_supported"`
}

// WellKnownPaths are the metadata documents' paths, served by the function
// at its root and, on the public origin, at the origin's root too.
var WellKnownPaths = []string{"/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"}

// authPath is where the auth function is mounted on the public origin, by
// `gatehouse serve` and by the load balancer alike.
const authPath = "/auth"

// functionURL returns the public URL of path on this function: the issuer
// (GATEHOUSE_PUBLIC_URL) + /auth + path.
func (s *Server) functionURL(path string) string {
	return strings.TrimSuffix(s.signer.Issuer(), "/") + authPath + path
}

// handleMetadata serves GET /.well-known/openid-configuration and GET
// /.well-known/oauth-authorization-server. Both documents are the same
// and describe the issuer, GATEHOUSE_PUBLIC_URL; they are served at the
// function's root, which the local server and the load balancer expose at
// the origin's /.well-known/ paths that OIDC discovery and RFC 8414 look
// at, and under /auth/.well-known/ too.
func (s *Server) handleMetadata(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Cache-Control", "public, max-age=3600")
	return web.WriteJSON(w, http.StatusOK, metadata{
		Issuer:                   s.signer.Issuer(),
		JWKSURI:                  s.functionURL("/.well-known/jwks.json"),
		IntrospectionEndpoint:    s.functionURL("/token/introspect"),
		IntrospectionAuthMethods: []string{"client_secret_basic"},
		RevocationEndpoint:       s.functionURL("/token/revoke"),
		RevocationAuthMethods:    []string{"none", "client_secret_basic"},
		ResponseTypes:            []string{"none"},
		SubjectTypes:             []string{"public"},
		IDTokenSigningAlgs:       []string{"EdDSA"},
		AccessTokenSigningAlgs:   []string{"EdDSA"},
		ClaimsSupported: []string{"iss", "aud", "sub", "sid", "iat", "exp", "auth_time", "amr", "auth_level",
			"org_id", "role", "permissions"},
	})
}
