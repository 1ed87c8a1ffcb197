package oauthcallback

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gatehouse-dev/gatehouse/shared/authz"
	"github.com/gatehouse-dev/gatehouse/shared/session"
	"github.com/gatehouse-dev/gatehouse/shared/store"
	"github.com/gatehouse-dev/gatehouse/shared/web"
)

// A disconnect decided on a membership that changed after authz.Require
// ran (the admin was demoted meanwhile) is refused inside its transaction,
// and the connection stays active. Before, the handler trusted the
// middleware's decision and revoked it.
//
// Controls: AUTHZ-2, CRED-6
func TestDisconnectRechecksInTransaction(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *testEnv) {
		c, _ := e.connectGoogleAds(t)
		s, err := newServer(e.Deps, e.config(t))
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		stale, err := s.authz.Member(ctx, orgA, "user-admin")
		if err != nil {
			t.Fatal(err)
		}
		stale.Checked = authz.PermIntegrationsManage
		if _, err := e.Store.SetMemberRole(ctx, orgA, "user-admin", "viewer", e.Clock.Now()); err != nil {
			t.Fatal(err)
		}
		r := httptest.NewRequest(http.MethodPost, "/connections/"+c.ID+"/disconnect?org="+orgA, nil)
		r.SetPathValue("id", c.ID)
		p := session.Principal{UserID: "user-admin", SessionID: e.users["admin"].session, AuthTime: e.Clock.Now()}
		r = r.WithContext(authz.WithMember(session.WithPrincipal(r.Context(), p), stale))
		rec := httptest.NewRecorder()
		web.Handler(e.Logger, s.disconnect).ServeHTTP(rec, r)
		if rec.Code != http.StatusForbidden {
			t.Fatalf("disconnect by a demoted admin: %d %s", rec.Code, rec.Body)
		}
		if got, _ := e.Store.Connection(ctx, orgA, c.ID); got.Status == store.ConnectionRevoked {
			t.Fatal("the connection was revoked on a stale check")
		}
	})
}
