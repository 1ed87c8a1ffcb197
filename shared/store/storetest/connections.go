package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/store"
)

// connSealedLike returns bytes in the envelope v1 layout under data key keyID,
// which is all a store reads of a ciphertext (the key id in its header).
func connSealedLike(keyID, body string) []byte {
	b := append([]byte{0x01, byte(len(keyID))}, keyID...)
	b = append(b, make([]byte, 12)...)
	return append(b, []byte(body+"0123456789abcdef")...)
}

func connFixture(id, org, platform, account string) store.Connection {
	return store.Connection{ID: id, OrgID: org, Platform: platform, Account: account,
		Scopes: []string{"read_a", "read_b"}, Status: store.ConnectionActive,
		AccessToken: connSealedLike("dk1", "at-"+id), RefreshToken: connSealedLike("dk1", "rt-"+id),
		TokenType: "Bearer", ExpiresAt: epoch.Add(time.Hour), CreatedBy: "user-1", CreatedAt: epoch}
}

// Controls: AUTHZ-3, CRED-6, CRED-7
func testConnections(t *testing.T, open Opener) {
	s, ctx := open(t), context.Background()
	c := connFixture("con-1", "org-a", "google_ads", "")
	if err := s.CreateConnection(ctx, c); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		c    store.Connection
	}{
		{"same id", connFixture("con-1", "org-b", "linkedin", "")},
		{"same live account", connFixture("con-2", "org-a", "google_ads", "")},
	} {
		if err := s.CreateConnection(ctx, tc.c); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("%s: CreateConnection err = %v, want ErrConflict", tc.name, err)
		}
	}
	got, err := s.Connection(ctx, "org-a", "con-1")
	if err != nil || got.Platform != "google_ads" || !bytes.Equal(got.AccessToken, c.AccessToken) ||
		len(got.Scopes) != 2 || !got.ExpiresAt.Equal(c.ExpiresAt) || !got.RefreshedAt.IsZero() {
		t.Fatalf("Connection = %+v, %v", got, err)
	}
	// Another organization cannot read, lock, change or revoke it.
	if _, err := s.Connection(ctx, "org-b", "con-1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("other org read: err = %v, want ErrNotFound", err)
	}
	if err := s.SetConnectionStatus(ctx, "org-b", "con-1", store.ConnectionRevoked, "x", epoch); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("other org revoke: err = %v, want ErrNotFound", err)
	}
	if err := s.UpdateConnectionTokens(ctx, "org-b", "con-1", store.ConnectionTokens{AccessToken: connSealedLike("dk2", "x")}, epoch); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("other org update: err = %v, want ErrNotFound", err)
	}
	testConnectionTokens(t, s)
	testConnectionStatus(t, s)
}

func testConnectionTokens(t *testing.T, s store.Store) {
	ctx := context.Background()
	// A refresh without a new refresh token keeps the old one.
	at2 := connSealedLike("dk2", "at-2")
	if err := s.UpdateConnectionTokens(ctx, "org-a", "con-1", store.ConnectionTokens{AccessToken: at2,
		TokenType: "Bearer", ExpiresAt: epoch.Add(2 * time.Hour)}, epoch.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	got, _ := s.Connection(ctx, "org-a", "con-1")
	if !bytes.Equal(got.AccessToken, at2) || !bytes.Equal(got.RefreshToken, connSealedLike("dk1", "rt-con-1")) ||
		!got.RefreshedAt.Equal(epoch.Add(time.Minute)) || len(got.Scopes) != 2 {
		t.Fatalf("after refresh without rotation: %+v", got)
	}
	// A rotated refresh token is stored with the access token.
	rt3 := connSealedLike("dk2", "rt-3")
	if err := s.UpdateConnectionTokens(ctx, "org-a", "con-1", store.ConnectionTokens{AccessToken: connSealedLike("dk2", "at-3"),
		RefreshToken: rt3, Scopes: []string{"read_a"}}, epoch.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	got, _ = s.Connection(ctx, "org-a", "con-1")
	if !bytes.Equal(got.RefreshToken, rt3) || len(got.Scopes) != 1 || !got.ExpiresAt.IsZero() {
		t.Fatalf("after rotation: %+v", got)
	}
	if err := s.UpdateConnectionTokens(ctx, "org-a", "con-1", store.ConnectionTokens{AccessToken: []byte("plain")}, epoch); err == nil {
		t.Fatal("UpdateConnectionTokens stored bytes that are not a ciphertext")
	}
}

func testConnectionStatus(t *testing.T, s store.Store) {
	ctx := context.Background()
	now := epoch.Add(time.Hour)
	steps := []struct {
		name   string
		status store.ConnectionStatus
		want   error
	}{
		{"active to invalid", store.ConnectionInvalid, nil},
		{"invalid to invalid", store.ConnectionInvalid, store.ErrNotFound},
		{"invalid to revoked", store.ConnectionRevoked, nil},
		{"revoked to revoked", store.ConnectionRevoked, store.ErrNotFound},
		{"revoked to invalid", store.ConnectionInvalid, store.ErrNotFound},
	}
	for _, st := range steps {
		err := s.SetConnectionStatus(ctx, "org-a", "con-1", st.status, "reason", now)
		if !errors.Is(err, st.want) || (err == nil) != (st.want == nil) {
			t.Fatalf("%s: err = %v, want %v", st.name, err, st.want)
		}
	}
	// Revoked is final: new tokens cannot revive it.
	err := s.UpdateConnectionTokens(ctx, "org-a", "con-1", store.ConnectionTokens{AccessToken: connSealedLike("dk3", "x")}, now)
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("UpdateConnectionTokens on revoked: err = %v, want ErrNotFound", err)
	}
	got, _ := s.Connection(ctx, "org-a", "con-1")
	if got.Status != store.ConnectionRevoked || !got.StatusAt.Equal(now) {
		t.Fatalf("after revoke: status %s at %v", got.Status, got.StatusAt)
	}
	if _, err := s.CurrentConnection(ctx, "org-a", "google_ads", ""); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("CurrentConnection after revoke: err = %v, want ErrNotFound", err)
	}
	// The account can be connected again under a new id.
	if err := s.CreateConnection(ctx, connFixture("con-9", "org-a", "google_ads", "")); err != nil {
		t.Fatalf("reconnect after revoke: %v", err)
	}
	// An INVALID connection (re-authorization needed) is purged the same way.
	if err := s.CreateConnection(ctx, connFixture("con-inv", "org-a", "linkedin", "acct-inv")); err != nil {
		t.Fatal(err)
	}
	if err := s.SetConnectionStatus(ctx, "org-a", "con-inv", store.ConnectionInvalid, "invalid_grant", now); err != nil {
		t.Fatal(err)
	}
	// Purge erases the revoked and invalid ciphertexts only after the grace period.
	if n, err := s.PurgeRevokedCredentials(ctx, now); err != nil || n != 0 {
		t.Fatalf("purge inside grace period = %d, %v; want 0", n, err)
	}
	if n, err := s.PurgeRevokedCredentials(ctx, now.Add(time.Second)); err != nil || n != 2 {
		t.Fatalf("purge = %d, %v; want 2 (revoked and invalid)", n, err)
	}
	if inv, _ := s.Connection(ctx, "org-a", "con-inv"); inv.AccessToken != nil || inv.RefreshToken != nil || inv.Status != store.ConnectionInvalid {
		t.Fatalf("invalid connection after purge: %+v", inv)
	}
	got, _ = s.Connection(ctx, "org-a", "con-1")
	if got.AccessToken != nil || got.RefreshToken != nil || got.Status != store.ConnectionRevoked {
		t.Fatalf("after purge: %+v", got)
	}
	if live, _ := s.Connection(ctx, "org-a", "con-9"); live.AccessToken == nil {
		t.Fatal("purge erased an active connection")
	}
	list, err := s.ListConnections(ctx, "org-a")
	if err != nil || len(list) != 3 {
		t.Fatalf("ListConnections = %d, %v; want 3", len(list), err)
	}
}

// Controls: AUTHZ-3
func testShopConnections(t *testing.T, open Opener) {
	s, ctx := open(t), context.Background()
	shop := "acme.myshopify.com"
	if err := s.CreateConnection(ctx, connFixture("con-s1", "org-a", store.PlatformShopify, shop)); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateConnection(ctx, connFixture("con-s2", "org-b", store.PlatformShopify, shop)); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("shop in a second org: err = %v, want ErrConflict", err)
	}
	if org, err := s.ShopConnected(ctx, "ACME.myshopify.com"); err != nil || org != "org-a" {
		t.Fatalf("ShopConnected = %q, %v", org, err)
	}
	if _, err := s.ShopConnected(ctx, "other.myshopify.com"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("ShopConnected(unknown) err = %v", err)
	}
	err := s.Tx(ctx, func(tx store.Store) error {
		c, err := tx.RevokeShopConnection(ctx, shop, "app_uninstalled", epoch)
		if err == nil && (c.ID != "con-s1" || c.Status != store.ConnectionRevoked) {
			t.Errorf("RevokeShopConnection returned %+v", c)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.RevokeShopConnection(ctx, shop, "again", epoch); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second revoke: err = %v, want ErrNotFound", err)
	}
	if _, err := s.ShopConnected(ctx, shop); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("ShopConnected after uninstall: err = %v", err)
	}
	if err := s.CreateConnection(ctx, connFixture("con-s3", "org-b", store.PlatformShopify, shop)); err != nil {
		t.Fatalf("shop free again after uninstall: %v", err)
	}
}

// Controls: OAUTH-2
func testOAuthNonces(t *testing.T, open Opener) {
	s, ctx := open(t), context.Background()
	h := sha256.Sum256([]byte("nonce"))
	errs := race(50, func(int) error { return s.UseOAuthNonce(ctx, h, epoch.Add(10*time.Minute)) })
	exactlyOne(t, errs, store.ErrUsed)
	if n, err := s.PurgeOAuthNonces(ctx, epoch.Add(10*time.Minute)); err != nil || n != 0 {
		t.Fatalf("purge before expiry = %d, %v", n, err)
	}
	if n, err := s.PurgeOAuthNonces(ctx, epoch.Add(11*time.Minute)); err != nil || n != 1 {
		t.Fatalf("purge after expiry = %d, %v; want 1", n, err)
	}
}

func testSSOConfigs(t *testing.T, open Opener) {
	s, ctx := open(t), context.Background()
	c := store.SSOConfig{ID: "sso-1", OrgID: "org-a", Issuer: "https://idp.example.com", ClientID: "cid",
		ClientSecret: connSealedLike("dk1", "secret"), UpdatedBy: "u",
		CreatedAt: epoch, UpdatedAt: epoch}
	if err := s.PutSSOConfig(ctx, c); err != nil {
		t.Fatal(err)
	}
	if got, err := s.SSOConfig(ctx, "org-a"); err != nil || got.ProvisionRole != "" {
		t.Fatalf("SSOConfig = %+v, %v; want no provisioning", got, err)
	}
	c.ClientID, c.UpdatedAt, c.ProvisionRole = "cid2", epoch.Add(time.Hour), "viewer"
	if err := s.PutSSOConfig(ctx, c); err != nil {
		t.Fatal(err)
	}
	got, err := s.SSOConfig(ctx, "org-a")
	if err != nil || got.ClientID != "cid2" || !got.CreatedAt.Equal(epoch) || got.ProvisionRole != "viewer" {
		t.Fatalf("SSOConfig = %+v, %v", got, err)
	}
	for _, tc := range []struct {
		name string
		id   string
		org  string
	}{
		{"second config for org", "sso-2", "org-a"},
		{"id of another org", "sso-1", "org-b"},
	} {
		bad := c
		bad.ID, bad.OrgID = tc.id, tc.org
		if err := s.PutSSOConfig(ctx, bad); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("%s: err = %v, want ErrConflict", tc.name, err)
		}
	}
	if _, err := s.SSOConfig(ctx, "org-b"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("other org: err = %v", err)
	}
	if err := s.DeleteSSOConfig(ctx, "org-a"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteSSOConfig(ctx, "org-a"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second delete: err = %v", err)
	}
}

// Controls: AUTH-10, AUTH-13
func testIdentities(t *testing.T, open Opener) {
	s, ctx := open(t), context.Background()
	for _, id := range []string{"u1", "u2"} {
		if err := s.CreateUser(ctx, store.User{ID: id, Email: id + "@example.com", Name: id, CreatedAt: epoch, UpdatedAt: epoch}); err != nil {
			t.Fatal(err)
		}
	}
	link := store.Identity{ID: "idn-1", Provider: "google", Subject: "sub-1", UserID: "u1", CreatedAt: epoch}
	if err := s.LinkIdentity(ctx, link); err != nil {
		t.Fatal(err)
	}
	for name, bad := range map[string]store.Identity{
		"second link of one subject": {ID: "idn-2", Provider: "google", Subject: "sub-1", UserID: "u2", CreatedAt: epoch},
		"same id":                    {ID: "idn-1", Provider: "github", Subject: "sub-9", UserID: "u2", CreatedAt: epoch},
	} {
		if err := s.LinkIdentity(ctx, bad); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("%s: err = %v, want ErrConflict", name, err)
		}
	}
	if u, err := s.IdentityUser(ctx, "google", "sub-1"); err != nil || u != "u1" {
		t.Fatalf("IdentityUser = %q, %v", u, err)
	}
	if _, err := s.IdentityUser(ctx, "github", "sub-1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("other provider: err = %v", err)
	}
	if ids, err := s.UserIdentities(ctx, "u1"); err != nil || len(ids) != 1 || !sameIdentity(ids[0], link) {
		t.Fatalf("UserIdentities = %+v, %v; want [%+v]", ids, err, link)
	}
	if _, err := s.DeleteIdentity(ctx, "u2", "idn-1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("another user unlinked it: err = %v", err)
	}
	if got, err := s.DeleteIdentity(ctx, "u1", "idn-1"); err != nil || !sameIdentity(got, link) {
		t.Fatalf("DeleteIdentity = %+v, %v", got, err)
	}
	if _, err := s.IdentityUser(ctx, "google", "sub-1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unlinked identity still signs in: err = %v", err)
	}
	if _, err := s.DeleteIdentity(ctx, "u1", "idn-1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second unlink: err = %v", err)
	}
	if err := s.LinkIdentity(ctx, store.Identity{ID: "idn-3", Provider: "github", Subject: "42", UserID: "u1", CreatedAt: epoch}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteUser(ctx, "u1"); err != nil {
		t.Fatal(err)
	}
	if ids, err := s.UserIdentities(ctx, "u1"); err != nil || len(ids) != 0 {
		t.Fatalf("identities survive their user: %v, %v", ids, err)
	}
}

// The first proof of an address removes every identity linked before it,
// whatever its timestamp; a later proof keeps links made since the first.
//
// Controls: AUTH-13
func testProveEmail(t *testing.T, open Opener) {
	s, ctx := open(t), context.Background()
	if err := s.CreateUser(ctx, store.User{ID: "u1", Email: "u1@example.com", CreatedAt: epoch, UpdatedAt: epoch}); err != nil {
		t.Fatal(err)
	}
	other := store.User{ID: "u2", Email: "u2@example.com", EmailVerifiedAt: epoch, CreatedAt: epoch, UpdatedAt: epoch}
	if err := s.CreateUser(ctx, other); err != nil {
		t.Fatal(err)
	}
	planted := []store.Identity{
		{ID: "idn-1", Provider: "oidc:https://idp.example", Subject: "a", UserID: "u1", CreatedAt: epoch},
		{ID: "idn-2", Provider: "github", Subject: "b", UserID: "u1", CreatedAt: epoch.Add(3 * time.Hour)},
		{ID: "idn-3", Provider: "github", Subject: "c", UserID: "u2", CreatedAt: epoch},
	}
	for _, id := range planted {
		if err := s.LinkIdentity(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	proof := epoch.Add(time.Hour)
	removed, err := s.ProveEmail(ctx, "u1", proof)
	if err != nil || len(removed) != 2 {
		t.Fatalf("first proof removed %+v, %v; want both links", removed, err)
	}
	if u, _ := s.User(ctx, "u1"); !u.EmailVerifiedAt.Equal(proof) {
		t.Fatalf("EmailVerifiedAt = %v, want %v", u.EmailVerifiedAt, proof)
	}
	later := store.Identity{ID: "idn-4", Provider: "google", Subject: "d", UserID: "u1", CreatedAt: proof.Add(time.Minute)}
	if err := s.LinkIdentity(ctx, later); err != nil {
		t.Fatal(err)
	}
	if removed, err := s.ProveEmail(ctx, "u1", proof.Add(time.Hour)); err != nil || len(removed) != 0 {
		t.Fatalf("second proof removed %+v, %v; want none", removed, err)
	}
	if u, _ := s.User(ctx, "u1"); !u.EmailVerifiedAt.Equal(proof) {
		t.Fatalf("second proof moved EmailVerifiedAt to %v", u.EmailVerifiedAt)
	}
	if ids, _ := s.UserIdentities(ctx, "u2"); len(ids) != 1 {
		t.Fatalf("another user's identities: %+v", ids)
	}
	if removed, err := s.ProveEmail(ctx, "u2", proof); err != nil || len(removed) != 0 {
		t.Fatalf("proof of a proven address removed a link made at its proof: %+v, %v", removed, err)
	}
	if _, err := s.ProveEmail(ctx, "nobody", proof); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown user: err = %v", err)
	}
}

func sameIdentity(a, b store.Identity) bool {
	return a.ID == b.ID && a.Provider == b.Provider && a.Subject == b.Subject && a.UserID == b.UserID &&
		a.CreatedAt.Equal(b.CreatedAt)
}
