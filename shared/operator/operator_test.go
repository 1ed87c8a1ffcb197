package operator_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/config"
	"github.com/gatehouse-dev/gatehouse/shared/logging"
	"github.com/gatehouse-dev/gatehouse/shared/oauthtest"
	"github.com/gatehouse-dev/gatehouse/shared/operator"
)

const (
	audience = "https://gatehouse.example.com/auth/admin"
	operSA   = "ops@project.iam.gserviceaccount.com"
)

// newVerifier returns a verifier trusting idp's keys, with operSA allowed
// and the dev token "dev-secret".
func newVerifier(t *testing.T, idp *oauthtest.Server) *operator.Verifier {
	t.Helper()
	v, err := operator.New(operator.Config{Audience: audience, Accounts: []string{" Ops@Project.iam.gserviceaccount.com "},
		Issuer: idp.Issuer(), JWKSURL: idp.URL + "/jwks", DevToken: logging.NewSecret("dev-secret")}, config.EnvDev)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func claims(idp *oauthtest.Server, mod func(map[string]any)) map[string]any {
	now := time.Now()
	c := map[string]any{"iss": idp.Issuer(), "aud": audience, "sub": "1234567890", "email": operSA,
		"email_verified": true, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	if mod != nil {
		mod(c)
	}
	return c
}

// Only a Google-style ID token from the trusted issuer, for the admin
// audience, naming an allowed and verified service account, or the dev
// token, authenticates; everything else is refused.
//
// Controls: AUTHZ-2
func TestVerify(t *testing.T) {
	idp := oauthtest.New(t, oauthtest.Options{})
	v := newVerifier(t, idp)
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	signed := func(mod func(map[string]any)) string {
		tok, err := idp.SignIDToken(claims(idp, mod))
		if err != nil {
			t.Fatal(err)
		}
		return "Bearer " + tok
	}
	forged, err := oauthtest.SignWithKey(other, claims(idp, nil))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, auth string
		want       string // operator e-mail, "" for a refusal
	}{
		{"valid ID token", signed(nil), operSA},
		{"dev token", "Bearer dev-secret", operator.DevOperator},
		{"no header", "", ""},
		{"basic scheme", "Basic ZGV2LXNlY3JldA==", ""},
		{"wrong dev token", "Bearer dev-secret2", ""},
		{"forged signature", "Bearer " + forged, ""},
		{"wrong audience", signed(func(c map[string]any) { c["aud"] = "https://gatehouse.example.com/auth" }), ""},
		{"wrong service account", signed(func(c map[string]any) { c["email"] = "intruder@project.iam.gserviceaccount.com" }), ""},
		{"unverified e-mail", signed(func(c map[string]any) { c["email_verified"] = false }), ""},
		{"expired", signed(func(c map[string]any) { c["exp"] = time.Now().Add(-time.Hour).Unix() }), ""},
		{"other issuer", signed(func(c map[string]any) { c["iss"] = "https://evil.example" }), ""},
		{"not a JWT", "Bearer abc.def.ghi", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/admin/users", nil)
			if tc.auth != "" {
				r.Header.Set("Authorization", tc.auth)
			}
			id, err := v.Verify(context.Background(), r)
			if tc.want == "" {
				if !errors.Is(err, operator.ErrUnauthenticated) {
					t.Fatalf("Verify = %+v, %v; want ErrUnauthenticated", id, err)
				}
				return
			}
			if err != nil || id.Email != tc.want {
				t.Fatalf("Verify = %+v, %v; want %s", id, err, tc.want)
			}
		})
	}
}

// Staging and prod accept only Google's issuer and keys, and no dev token;
// allowed accounts need an audience.
//
// Controls: AUTHZ-2
func TestNewRefusesOverridesWhenDeployed(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  operator.Config
		env  config.Env
		ok   bool
	}{
		{"google in prod", operator.Config{Audience: audience, Accounts: []string{operSA}}, config.EnvProd, true},
		{"explicit google in prod", operator.Config{Audience: audience, Accounts: []string{operSA},
			Issuer: operator.GoogleIssuer, JWKSURL: operator.GoogleJWKSURL}, config.EnvProd, true},
		{"local issuer in prod", operator.Config{Audience: audience, Accounts: []string{operSA},
			Issuer: "http://127.0.0.1:1"}, config.EnvProd, false},
		{"local keys in staging", operator.Config{Audience: audience, Accounts: []string{operSA},
			JWKSURL: "http://127.0.0.1:1/jwks"}, config.EnvStaging, false},
		{"dev token in prod", operator.Config{DevToken: logging.NewSecret("x")}, config.EnvProd, false},
		{"accounts without audience", operator.Config{Accounts: []string{operSA}}, config.EnvDev, false},
		{"nothing configured", operator.Config{}, config.EnvProd, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := operator.New(tc.cfg, tc.env)
			if (err == nil) != tc.ok {
				t.Fatalf("New err = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

// Whatever an unauthenticated caller puts in the Authorization header, it
// authenticates only as the exact dev token, and nothing panics.
func FuzzVerify(f *testing.F) {
	for _, s := range []string{"Bearer dev-secret", "Bearer dev-secret ", "bearer dev-secret", "Bearer", "Bearer  x",
		"Basic ZGV2LXNlY3JldA==", "Bearer eyJhbGciOiJub25lIn0.eyJlbWFpbCI6Im9wc0BwIn0.", "Bearer a.b.c", ""} {
		f.Add(s)
	}
	v, err := operator.New(operator.Config{Audience: audience, Accounts: []string{operSA},
		Issuer: "http://127.0.0.1:1", JWKSURL: "http://127.0.0.1:1/jwks", DevToken: logging.NewSecret("dev-secret"),
		HTTPClient: &http.Client{Timeout: 50 * time.Millisecond}}, config.EnvDev)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, auth string) {
		r := httptest.NewRequest(http.MethodGet, "/admin/users", nil)
		r.Header["Authorization"] = []string{auth}
		id, err := v.Verify(context.Background(), r)
		scheme, tok, _ := strings.Cut(auth, " ")
		isDev := strings.EqualFold(scheme, "Bearer") && tok == "dev-secret"
		if (err == nil) != isDev || err == nil && id.Email != operator.DevOperator {
			t.Fatalf("%q: %+v, %v", auth, id, err)
		}
	})
}
