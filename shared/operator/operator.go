// Package operator authenticates the callers of the admin API: operators,
// as Google service accounts presenting Google-signed ID tokens, or, in
// development only, the holder of a local admin token. A user's session or
// access token is never an operator credential: nothing here reads cookies,
// and a Gatehouse access token is not signed by the operator issuer.
package operator

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/gatehouse-dev/gatehouse/shared/config"
)

// Google's issuer and signing keys: the only ones a staging or prod
// deployment accepts.
const (
	GoogleIssuer  = "https://accounts.google.com"
	GoogleJWKSURL = "https://www.googleapis.com/oauth2/v3/certs"
)

// DevOperator is the identity of the local admin token's holder.
const DevOperator = "local-admin"

// Config says who may call the admin API.
type Config struct {
	// Audience is the admin API's URL, the aud an ID token must carry.
	Audience string
	// Accounts are the service-account e-mails allowed to call.
	Accounts []string
	// Issuer and JWKSURL name the ID tokens' issuer and its keys; Google's
	// when empty. Only a development environment may set them (tests point
	// them at a local OpenID provider).
	Issuer, JWKSURL string
	// DevToken, development only, is a bearer token that authenticates as
	// [DevOperator] (printed by `gatehouse serve`).
	DevToken config.Secret
	// HTTPClient fetches the issuer's keys; a client with a 10s timeout
	// when nil.
	HTTPClient *http.Client
	// Now is the clock ID tokens are checked against; time.Now when nil.
	Now func() time.Time
}

// Identity is an authenticated operator.
type Identity struct {
	Email string // the service account, or DevOperator
	Via   string // "google_id_token" or "dev_token"
}

// ErrUnauthenticated is wrapped by every refusal of [Verifier.Verify].
var ErrUnauthenticated = errors.New("operator: not authenticated")

// Verifier checks operator credentials.
type Verifier struct {
	accounts []string
	ids      *oidc.IDTokenVerifier // nil when no account is allowed
	devToken [32]byte              // SHA-256 of the dev token
	hasDev   bool
}

// New returns a Verifier for cfg in env. It refuses, in staging and prod,
// an issuer or key URL other than Google's and a dev token, and it
// refuses allowed accounts without an audience.
func New(cfg Config, env config.Env) (*Verifier, error) {
	if env.Deployed() {
		if (cfg.Issuer != "" && cfg.Issuer != GoogleIssuer) || (cfg.JWKSURL != "" && cfg.JWKSURL != GoogleJWKSURL) {
			return nil, fmt.Errorf("operator ID tokens must come from Google in %s", env)
		}
		if !cfg.DevToken.IsZero() {
			return nil, fmt.Errorf("a local admin token is not allowed in %s", env)
		}
	}
	v := &Verifier{accounts: normalized(cfg.Accounts)}
	if !cfg.DevToken.IsZero() {
		v.devToken, v.hasDev = sha256.Sum256([]byte(cfg.DevToken.Reveal())), true
	}
	if len(v.accounts) == 0 {
		return v, nil
	}
	if cfg.Audience == "" {
		return nil, errors.New("operator accounts are set but the admin audience is not")
	}
	issuer, jwks := orDefault(cfg.Issuer, GoogleIssuer), orDefault(cfg.JWKSURL, GoogleJWKSURL)
	client := cfg.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	keys := oidc.NewRemoteKeySet(oidc.ClientContext(context.Background(), client), jwks)
	v.ids = oidc.NewVerifier(issuer, keys, &oidc.Config{ClientID: cfg.Audience,
		SupportedSigningAlgs: []string{oidc.RS256}, Now: cfg.Now})
	return v, nil
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func normalized(emails []string) []string {
	var out []string
	for _, e := range emails {
		if e = strings.ToLower(strings.TrimSpace(e)); e != "" {
			out = append(out, e)
		}
	}
	return out
}

// Enabled reports whether anyone at all can authenticate.
func (v *Verifier) Enabled() bool { return v.ids != nil || v.hasDev }

// Verify authenticates r's bearer credential. Every refusal wraps
// [ErrUnauthenticated] (a forged, expired or wrongly addressed token, an
// account not on the list, an unverified e-mail, no credential at all).
func (v *Verifier) Verify(ctx context.Context, r *http.Request) (Identity, error) {
	raw, ok := bearer(r)
	if !ok {
		return Identity{}, fmt.Errorf("%w: no bearer token", ErrUnauthenticated)
	}
	if v.hasDev {
		sum := sha256.Sum256([]byte(raw))
		if subtle.ConstantTimeCompare(sum[:], v.devToken[:]) == 1 {
			return Identity{Email: DevOperator, Via: "dev_token"}, nil
		}
	}
	if v.ids == nil {
		return Identity{}, fmt.Errorf("%w: no operator account is configured", ErrUnauthenticated)
	}
	tok, err := v.ids.Verify(ctx, raw)
	if err != nil {
		return Identity{}, fmt.Errorf("%w: %w", ErrUnauthenticated, err)
	}
	var claims struct {
		Email    string `json:"email"`
		Verified bool   `json:"email_verified"`
	}
	if err := tok.Claims(&claims); err != nil {
		return Identity{}, fmt.Errorf("%w: claims: %w", ErrUnauthenticated, err)
	}
	email := strings.ToLower(claims.Email)
	if !claims.Verified || !slices.Contains(v.accounts, email) {
		return Identity{}, fmt.Errorf("%w: %q is not an allowed operator", ErrUnauthenticated, claims.Email)
	}
	return Identity{Email: email, Via: "google_id_token"}, nil
}

// bearer returns the token of an "Authorization: Bearer" header.
func bearer(r *http.Request) (string, bool) {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" || strings.ContainsAny(tok, " \t") {
		return "", false
	}
	return tok, true
}
