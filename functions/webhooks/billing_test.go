package webhooks

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/session"
	"github.com/gatehouse-dev/gatehouse/shared/store"
	"github.com/gatehouse-dev/gatehouse/shared/token"
)

// signIn creates users, organizations and memberships, and returns an
// access token per user name.
func signIn(t *testing.T, e *testEnv) map[string]string {
	t.Helper()
	ctx, now := context.Background(), e.Clock.Now()
	for _, name := range []string{"ownerA", "adminA", "ownerB", "ownerC"} {
		if err := e.Store.CreateUser(ctx, store.User{ID: "user-" + name, Email: name + "@example.com", Name: name,
			PasswordHash: "x", CreatedAt: now, UpdatedAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	for _, o := range []struct{ id, owner string }{{"org_a", "user-ownerA"}, {"org_b", "user-ownerB"}, {"org_c", "user-ownerC"}} {
		if err := e.Store.CreateOrg(ctx, store.Org{ID: o.id, Name: o.id, CreatedAt: now}, o.owner); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Store.AddMember(ctx, store.Member{OrgID: "org_a", UserID: "user-adminA", Role: "admin", CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	signer, err := token.NewSigner(ctx, e.Store, e.Keyring, token.Options{Issuer: e.Config.PublicURL.String(), Now: e.Clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	m, err := session.New(e.Deps, signer, session.Config{AllowedOrigins: e.Config.AllowedOrigins})
	if err != nil {
		t.Fatal(err)
	}
	tokens := map[string]string{}
	for _, name := range []string{"ownerA", "adminA", "ownerB", "ownerC"} {
		w := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodPost, "/login", nil)
		if err := m.Complete(ctx, w, r, "user-"+name, []string{"pwd"}); err != nil {
			t.Fatal(err)
		}
		var resp session.TokenResponse
		if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil {
			t.Fatal(err)
		}
		e.Logs.Plant(resp.AccessToken)
		tokens[name] = resp.AccessToken
	}
	// The function's verify-only signer loaded an empty key set at start;
	// let enough time pass for it to look up the key the auth side created.
	e.Clock.Advance(time.Minute)
	return tokens
}

// GET /billing shows an organization's billing metadata to its owner and
// to no one else.
//
// Controls: AUTHZ-2, AUTHZ-3, HOOK-3
func TestGetBilling(t *testing.T) {
	eachBackend(t, func(t *testing.T, s store.Store) {
		e := newTestEnv(t, s, nil)
		tokens := signIn(t, e)
		t0 := e.Clock.Now()
		for _, b := range [][]byte{
			stripeEventBody("evt_1", "checkout.session.completed", t0, checkoutObject("cus_A", "org_a", "sub_A")),
			stripeEventBody("evt_2", "customer.subscription.created", t0, subscriptionObject("sub_A", "cus_A", "active", "price_pro", t0.Add(720*time.Hour), false)),
			stripeEventBody("evt_3", "payment_method.attached", t0, paymentMethodObject("pm_1", "cus_A", "visa", "4242")),
			stripeEventBody("evt_4", "checkout.session.completed", t0, checkoutObject("cus_B", "org_b", "")),
		} {
			deliverStripe(t, e, b)
		}
		for _, tc := range []struct {
			name, user, query string
			status            int
			want              string
		}{
			{"owner", "ownerA", "org=org_a", 200, `"customer_id":"cus_A"`},
			{"admin (billing is owner only)", "adminA", "org=org_a", 403, "forbidden"},
			{"owner of another org", "ownerB", "org=org_a", 403, "forbidden"},
			{"own org, no subscription", "ownerB", "org=org_b", 200, `"subscription":null`},
			{"own org, no billing", "ownerC", "org=org_c", 404, "not_found"},
			{"no org", "ownerA", "", 403, "forbidden"},
			{"no token", "", "org=org_a", 401, "unauthenticated"},
		} {
			r := httptest.NewRequest(http.MethodGet, "/billing?"+tc.query, nil)
			if tc.user != "" {
				r.Header.Set("Authorization", "Bearer "+tokens[tc.user])
			}
			w := httptest.NewRecorder()
			e.h.ServeHTTP(w, r)
			if w.Code != tc.status || !strings.Contains(w.Body.String(), tc.want) {
				t.Fatalf("%s: %d %s, want %d %s", tc.name, w.Code, w.Body, tc.status, tc.want)
			}
			if tc.status == 200 && w.Header().Get("Cache-Control") != "no-store" {
				t.Fatalf("%s: billing state is cacheable", tc.name)
			}
		}
		r := httptest.NewRequest(http.MethodGet, "/billing?org=org_a", nil)
		r.Header.Set("Authorization", "Bearer "+tokens["ownerA"])
		w := httptest.NewRecorder()
		e.h.ServeHTTP(w, r)
		var v billingView
		decodeJSON(t, w.Body.Bytes(), &v)
		if v.OrgID != "org_a" || v.Subscription == nil || v.Subscription.Status != "active" || v.Card == nil || v.Card.Last4 != "4242" {
			t.Fatalf("billing view = %s", w.Body)
		}
		assertNoCardData(t, s, nil)
		if strings.Contains(w.Body.String(), cardNumber) || strings.Contains(w.Body.String(), "exp_") {
			t.Fatalf("billing view holds card data: %s", w.Body)
		}
	})
}
