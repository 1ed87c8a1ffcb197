package auth

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/bootstrap/bootstraptest"
	"github.com/gatehouse-dev/gatehouse/shared/store"
)

// A user names their own passkeys and no one else's; the name comes back in
// GET /mfa; bad names are a 400 and change nothing.
func TestPasskeyRename(t *testing.T) {
	backends(t, func(t *testing.T, b bootstraptest.Backend) {
		te := newTestEnv(t, b)
		ana := te.signUp(t, "ana@example.com", testPassword)
		bob := te.signUp(t, "bob@example.com", testPassword)
		err := te.Env.Deps.Store.CreateWebAuthnCredential(context.Background(), store.WebAuthnCredential{ID: "cred-ana",
			UserID: ana.UserID, CredentialID: []byte("raw-ana"), PublicKey: []byte("cose"), AAGUID: make([]byte, 16), CreatedAt: time.Unix(1e9, 0)})
		if err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name   string
			access string
			id     string
			body   string
			status int
		}{
			{"another user's passkey", bob.AccessToken, "cred-ana", `{"name":"mine now"}`, http.StatusNotFound},
			{"unknown passkey", ana.AccessToken, "nope", `{"name":"x"}`, http.StatusNotFound},
			{"empty name", ana.AccessToken, "cred-ana", `{"name":"   "}`, http.StatusBadRequest},
			{"too long", ana.AccessToken, "cred-ana", `{"name":"` + strings.Repeat("a", 101) + `"}`, http.StatusBadRequest},
			{"control character", ana.AccessToken, "cred-ana", `{"name":"a\u0007b"}`, http.StatusBadRequest},
			{"unknown field", ana.AccessToken, "cred-ana", `{"name":"a","x":1}`, http.StatusBadRequest},
			{"no session", "", "cred-ana", `{"name":"a"}`, http.StatusUnauthorized},
			{"owner", ana.AccessToken, "cred-ana", `{"name":"  Work laptop "}`, http.StatusNoContent},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				var hdr []http.Header
				if tc.access != "" {
					hdr = append(hdr, bearer(tc.access))
				}
				rec := te.do(t, "PATCH", "/mfa/webauthn/"+tc.id, tc.body, hdr...)
				if rec.Code != tc.status {
					t.Fatalf("status %d, want %d: %s", rec.Code, tc.status, rec.Body)
				}
			})
		}
		rec := te.do(t, "GET", "/mfa", nil, bearer(ana.AccessToken))
		var st mfaSummaryJSON
		if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil || len(st.WebAuthn) != 1 || st.WebAuthn[0].Name != "Work laptop" {
			t.Fatalf("GET /mfa = %s (%v)", rec.Body, err)
		}
	})
}
