// Command backend is a minimal service of a SaaS that trusts Gatehouse
// for sign-in: it verifies access tokens with the verify package, serves
// the signed-in user, lets members with "read" list their organization's
// reports, and lets members who may manage members (checked through
// introspection, so a demotion counts at once) reset them.
//
//	ISSUER=http://localhost:8080 PORT=9090 go run ./examples/backend
//
// INTROSPECTION_CLIENT_ID and INTROSPECTION_CLIENT_SECRET, set to an entry
// of Gatehouse's GATEHOUSE_INTROSPECTION_CLIENTS, enable the reset route.
package main

import (
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/verify"
)

func main() {
	issuer := os.Getenv("ISSUER")
	if issuer == "" {
		issuer = "http://localhost:8080"
	}
	port := os.Getenv("PORT")
	if port == "" {
		port = "9090"
	}
	h, err := newHandler(verify.Config{Issuer: issuer,
		IntrospectionURL: introspectionURL(issuer, os.Getenv("INTROSPECTION_CLIENT_ID")),
		ClientID:         os.Getenv("INTROSPECTION_CLIENT_ID"), ClientSecret: os.Getenv("INTROSPECTION_CLIENT_SECRET")})
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Addr: ":" + port, Handler: h, ReadHeaderTimeout: 10 * time.Second}
	log.Printf("backend on :%s trusting %s", port, issuer)
	log.Fatal(srv.ListenAndServe())
}

// introspectionURL is Gatehouse's RFC 7662 endpoint, when a client id is set.
func introspectionURL(issuer, clientID string) string {
	if clientID == "" {
		return ""
	}
	return strings.TrimSuffix(issuer, "/") + "/auth/token/introspect"
}

// newHandler returns the service's routes.
func newHandler(cfg verify.Config) (http.Handler, error) {
	v, err := verify.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("verifier: %w", err)
	}
	org := func(r *http.Request) string { return r.PathValue("org") }
	mux := http.NewServeMux()
	mux.Handle("GET /hello", v.Middleware(http.HandlerFunc(hello)))
	mux.Handle("GET /orgs/{org}/reports", v.Middleware(verify.RequireOrgPermission(org, "read")(http.HandlerFunc(reports))))
	if cfg.IntrospectionURL != "" {
		mux.Handle("POST /orgs/{org}/reports/reset",
			v.IntrospectMiddleware(verify.RequireOrgPermission(org, "members.manage")(http.HandlerFunc(reset))))
	}
	return mux, nil
}

func hello(w http.ResponseWriter, r *http.Request) {
	c, _ := verify.FromContext(r.Context())
	writeJSON(w, map[string]string{"user": c.Subject, "session": c.SessionID})
}

func reports(w http.ResponseWriter, r *http.Request) {
	c, _ := verify.FromContext(r.Context())
	writeJSON(w, map[string]any{"org": c.Org.ID, "role": c.Org.Role, "reports": []string{"weekly", "monthly"}})
}

func reset(w http.ResponseWriter, r *http.Request) {
	c, _ := verify.FromContext(r.Context())
	writeJSON(w, map[string]string{"org": c.Org.ID, "reset_by": c.Subject})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if err := json.NewEncoder(w).Encode(v); err != nil {
		log.Printf("write response: %v", err)
	}
}
