package auth

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/shared/bootstrap/bootstraptest"
)

// SCIM provisioning emits its events in the transaction of each change:
// the user's creation, the membership, each group (role) change and the
// deprovisioning with the end of the user's SSO sessions, once each; a
// refused deprovisioning emits nothing.
func TestSCIMEmitsEvents(t *testing.T) {
	backends(t, func(t *testing.T, b bootstraptest.Backend) {
		w := newSCIMWorld(t, b)
		_, alice := w.scim(t, w.tokA, w.a, "POST", "/Users", oktaCreate)
		id := alice["id"].(string)
		patch := func(op string) string {
			return fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[%s]}`, op)
		}
		if code, _ := w.scim(t, w.tokA, w.a, "PATCH", "/Groups/admin", patch(fmt.Sprintf(`{"op":"add","path":"members","value":[{"value":%q}]}`, id))); code != 200 {
			t.Fatalf("group add: %d", code)
		}
		if code, _ := w.scim(t, w.tokA, w.a, "PATCH", "/Groups/admin", patch(fmt.Sprintf(`{"op":"Remove","path":"members[value eq \"%s\"]"}`, id))); code != 200 {
			t.Fatalf("group remove: %d", code)
		}
		w.te.signInVia(t, id, w.a, "fed", "sso")
		if code, _ := w.scim(t, w.tokA, w.a, "PATCH", "/Users/"+id, oktaDeactivate); code != 200 {
			t.Fatalf("deactivate: %d", code)
		}
		owner := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"owner@corp.example.com","active":true}`
		_, o := w.scim(t, w.tokA, w.a, "POST", "/Users", owner)
		if code, _ := w.scim(t, w.tokA, w.a, "PATCH", "/Users/"+o["id"].(string), oktaDeactivate); code != http.StatusBadRequest {
			t.Fatalf("deprovision the owner: %d", code)
		}

		s := w.te.Env.Store
		got := append(emitted(t, s, "user/"+id), emitted(t, s, "org/"+w.a+"/member/"+id)...)
		slices.Sort(got)
		want := []string{
			`org.member.added {"org_id":"A","user_id":"U","role":"viewer","by":"scim"}`,
			`org.member.removed {"org_id":"A","user_id":"U","role":"viewer","by":"scim"}`,
			`org.member.role_changed {"org_id":"A","user_id":"U","role":"admin","previous_role":"viewer","by":"scim"}`,
			`org.member.role_changed {"org_id":"A","user_id":"U","role":"viewer","previous_role":"admin","by":"scim"}`,
			`session.revoked {"user_id":"U","reason":"scim_deprovisioned"}`,
			`user.created {"user_id":"U","email":"alice@corp.example.com","by":"scim"}`,
		}
		if r := strings.NewReplacer(w.a, "A", id, "U").Replace(strings.Join(got, "\n")); r != strings.Join(want, "\n") {
			t.Fatalf("events:\n%s", r)
		}
		if got := emitted(t, s, "org/"+w.a+"/member/"+o["id"].(string)); len(got) != 0 {
			t.Fatalf("owner events: %v", got)
		}
	})
}
