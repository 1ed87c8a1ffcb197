package auth

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/bootstrap/bootstraptest"
)

// Pending invitations are listed (never their tokens) to those who manage
// members, and a revoked one can no longer be accepted; another
// organization sees and revokes nothing of them.
//
// Controls: AUTHZ-2, AUTHZ-3, AUTHZ-4
func TestOrgInvitationsListRevoke(t *testing.T) {
	backends(t, func(t *testing.T, b bootstraptest.Backend) {
		te := newTestEnv(t, b)
		w := te.orgSetup(t)
		tok := func(name string) http.Header { return bearer(w.tokens[name].AccessToken) }
		path := "/orgs/" + w.A + "/invitations"
		keep := te.orgInvite(t, w.A, w.tokens["ownerA"].AccessToken, "keep@example.com", "viewer")
		te.Env.Clock.Advance(time.Second)
		drop := te.orgInvite(t, w.A, w.tokens["adminA"].AccessToken, "drop@example.com", "operator")

		var list struct {
			Invitations []orgInvitationJSON `json:"invitations"`
		}
		rec := te.do(t, "GET", path, nil, tok("adminA"))
		extDecodeBody(t, rec, http.StatusOK, &list)
		if strings.Contains(rec.Body.String(), keep) || strings.Contains(rec.Body.String(), drop) {
			t.Fatal("the list shows invitation tokens")
		}
		if len(list.Invitations) != 2 || list.Invitations[0].Email != "keep@example.com" || list.Invitations[0].Role != "viewer" ||
			list.Invitations[0].InvitedBy != w.ids["ownerA"] || list.Invitations[1].Email != "drop@example.com" || list.Invitations[1].ID == "" {
			t.Fatalf("invitations: %+v", list.Invitations)
		}
		dropID := list.Invitations[1].ID

		for _, who := range []string{"viewerA", "operatorA", "ownerB"} {
			if rec := te.do(t, "GET", path, nil, tok(who)); rec.Code != http.StatusForbidden {
				t.Fatalf("%s listing: %d", who, rec.Code)
			}
		}
		if rec := te.do(t, "DELETE", path+"/"+dropID, nil, tok("ownerB")); rec.Code != http.StatusForbidden {
			t.Fatalf("another organization's owner revoking: %d", rec.Code)
		}
		if rec := te.do(t, "DELETE", "/orgs/"+w.B+"/invitations/"+dropID, nil, tok("ownerB")); rec.Code != http.StatusNotFound {
			t.Fatalf("revoking through another organization: %d %s", rec.Code, rec.Body)
		}
		if rec := te.do(t, "DELETE", path+"/"+dropID, nil, tok("adminA")); rec.Code != http.StatusNoContent {
			t.Fatalf("revoke: %d %s", rec.Code, rec.Body)
		}
		if rec := te.do(t, "DELETE", path+"/"+dropID, nil, tok("adminA")); rec.Code != http.StatusNotFound {
			t.Fatalf("second revoke: %d", rec.Code)
		}
		extDecodeBody(t, te.do(t, "GET", path, nil, tok("ownerA")), http.StatusOK, &list)
		if len(list.Invitations) != 1 || list.Invitations[0].Email != "keep@example.com" {
			t.Fatalf("after the revocation: %+v", list.Invitations)
		}

		dropper := te.signUp(t, "drop@example.com", testPassword)
		if rec := te.do(t, "POST", "/invitations/accept", map[string]string{"token": drop}, bearer(dropper.AccessToken)); rec.Code != http.StatusBadRequest || errorCode(rec) != "invalid_invitation" {
			t.Fatalf("accepting a revoked invitation: %d %s", rec.Code, rec.Body)
		}
		keeper := te.signUp(t, "keep@example.com", testPassword)
		extDecodeBody(t, te.do(t, "POST", "/invitations/accept", map[string]string{"token": keep}, bearer(keeper.AccessToken)), http.StatusOK, nil)
		extDecodeBody(t, te.do(t, "GET", path, nil, tok("ownerA")), http.StatusOK, &list)
		if len(list.Invitations) != 0 {
			t.Fatalf("accepted invitation still pending: %+v", list.Invitations)
		}
		te.orgAuditHas(t, w.A, "org.invitation.revoke")
	})
}
