package auth

import (
	"net/http"
	"testing"

	"github.com/gatehouse-dev/gatehouse/shared/bootstrap/bootstraptest"
)

// Custom roles are edited and deleted with the same no-escalation rule as
// they are created; an edit takes effect on the holders' next request; a
// role someone holds cannot be deleted.
//
// Controls: AUTHZ-1, AUTHZ-2, AUTHZ-4
func TestOrgRoleEditDelete(t *testing.T) {
	backends(t, func(t *testing.T, b bootstraptest.Backend) {
		te := newTestEnv(t, b)
		w := te.orgSetup(t)
		tok := func(name string) http.Header { return bearer(w.tokens[name].AccessToken) }
		roles := "/orgs/" + w.A + "/roles"
		for _, role := range []map[string]any{
			{"name": "support", "permissions": []string{"read"}},
			{"name": "manager", "permissions": []string{"read", "members.manage"}},
			{"name": "integrator", "permissions": []string{"read", "integrations.manage"}},
		} {
			extDecodeBody(t, te.do(t, "POST", roles, role, tok("ownerA")), http.StatusCreated, nil)
		}
		extDecodeBody(t, te.do(t, "PATCH", "/orgs/"+w.A+"/members/"+w.ids["viewerA"], map[string]string{"role": "support"}, tok("ownerA")), http.StatusOK, nil)
		extDecodeBody(t, te.do(t, "PATCH", "/orgs/"+w.A+"/members/"+w.ids["operatorA"], map[string]string{"role": "manager"}, tok("ownerA")), http.StatusOK, nil)

		for _, tc := range []struct {
			name, who, method, path string
			body                    any
			status                  int
		}{
			{"manager adding a permission it lacks", "operatorA", "PATCH", roles + "/support", map[string]any{"permissions": []string{"read", "integrations.manage"}}, http.StatusForbidden},
			{"manager editing a stronger role", "operatorA", "PATCH", roles + "/integrator", map[string]any{"permissions": []string{"read"}}, http.StatusForbidden},
			{"manager deleting a stronger role", "operatorA", "DELETE", roles + "/integrator", nil, http.StatusForbidden},
			{"viewer", "viewerA", "PATCH", roles + "/support", map[string]any{"permissions": []string{"read"}}, http.StatusForbidden},
			{"other organization", "ownerB", "PATCH", roles + "/support", map[string]any{"permissions": []string{"read"}}, http.StatusForbidden},
			{"built-in role", "ownerA", "PATCH", roles + "/admin", map[string]any{"permissions": []string{"read"}}, http.StatusBadRequest},
			{"owner-only permission", "ownerA", "PATCH", roles + "/support", map[string]any{"permissions": []string{"billing.manage"}}, http.StatusBadRequest},
			{"audit trail permission", "ownerA", "PATCH", roles + "/support", map[string]any{"permissions": []string{"read", "audit.read"}}, http.StatusBadRequest},
			{"no permissions", "ownerA", "PATCH", roles + "/support", map[string]any{"permissions": []string{}}, http.StatusBadRequest},
			{"missing role", "ownerA", "PATCH", roles + "/nope", map[string]any{"permissions": []string{"read"}}, http.StatusNotFound},
			{"missing role deleted", "ownerA", "DELETE", roles + "/nope", nil, http.StatusNotFound},
		} {
			if rec := te.do(t, tc.method, tc.path, tc.body, tok(tc.who)); rec.Code != tc.status {
				t.Fatalf("%s: %d %s, want %d", tc.name, rec.Code, rec.Body, tc.status)
			}
		}

		// The holder gains members.manage with the edit.
		invitations := "/orgs/" + w.A + "/invitations"
		if rec := te.do(t, "GET", invitations, nil, tok("viewerA")); rec.Code != http.StatusForbidden {
			t.Fatalf("support listing invitations before the edit: %d", rec.Code)
		}
		extDecodeBody(t, te.do(t, "PATCH", roles+"/support", map[string]any{"permissions": []string{"read", "members.manage"}}, tok("ownerA")), http.StatusOK, nil)
		if rec := te.do(t, "GET", invitations, nil, tok("viewerA")); rec.Code != http.StatusOK {
			t.Fatalf("support listing invitations after the edit: %d", rec.Code)
		}

		// Held: refused; once no one holds it, deleted.
		if rec := te.do(t, "DELETE", roles+"/support", nil, tok("ownerA")); rec.Code != http.StatusConflict || errorCode(rec) != "role_in_use" {
			t.Fatalf("deleting a held role: %d %s", rec.Code, rec.Body)
		}
		extDecodeBody(t, te.do(t, "PATCH", "/orgs/"+w.A+"/members/"+w.ids["viewerA"], map[string]string{"role": "viewer"}, tok("ownerA")), http.StatusOK, nil)
		if rec := te.do(t, "DELETE", roles+"/support", nil, tok("ownerA")); rec.Code != http.StatusNoContent {
			t.Fatalf("delete: %d %s", rec.Code, rec.Body)
		}
		var list struct {
			Roles []orgRoleJSON `json:"roles"`
		}
		extDecodeBody(t, te.do(t, "GET", roles, nil, tok("ownerA")), http.StatusOK, &list)
		for _, r := range list.Roles {
			if r.Name == "support" {
				t.Fatal("deleted role still listed")
			}
		}
		te.orgAuditHas(t, w.A, "org.role.update", "org.role.delete")
	})
}
