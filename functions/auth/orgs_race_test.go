package auth

import (
	"net/http"
	"sync"
	"testing"

	"github.com/gatehouse-dev/gatehouse/shared/bootstrap/bootstraptest"
	"github.com/gatehouse-dev/gatehouse/shared/store"
)

// A demotion racing member changes on PostgreSQL: in each round 8
// requests of an admin setting a member to operator race one transaction
// that demotes the admin to viewer and then sets the member to viewer.
// Each request re-checks the admin's membership inside its own transaction
// with the organization locked, so an accepted change committed before the
// demotion and the member always ends as viewer, and every refusal is a
// 403. Before, the check ran only in the middleware, before the
// transaction: a change checked against the old role landed after the
// demotion and left the member an operator.
//
// Controls: AUTHZ-2, AUTHZ-3, AUTHZ-4
func TestDemotionRacesMemberChange(t *testing.T) {
	te := newTestEnv(t, bootstraptest.Backends[1])
	owner := te.signUp(t, "race-owner@example.com", testPassword)
	org := te.orgCreate(t, owner.AccessToken, "Race")
	admin := te.signUp(t, "race-admin@example.com", testPassword)
	member := te.signUp(t, "race-member@example.com", testPassword)
	te.orgInviteAccept(t, org, owner.AccessToken, "race-admin@example.com", "admin", admin.AccessToken)
	te.orgInviteAccept(t, org, owner.AccessToken, "race-member@example.com", "viewer", member.AccessToken)
	ctx, st := t.Context(), te.Env.Store
	const rounds, changers = 15, 8
	accepted := 0
	for round := range rounds {
		if _, err := st.SetMemberRole(ctx, org, admin.UserID, "admin", te.Env.Clock.Now()); err != nil {
			t.Fatal(err)
		}
		codes := make([]int, changers)
		var demoteErr error
		var wg sync.WaitGroup
		start := make(chan struct{})
		wg.Go(func() {
			<-start
			demoteErr = st.Tx(ctx, func(tx store.Store) error {
				if _, err := tx.SetMemberRole(ctx, org, admin.UserID, "viewer", te.Env.Clock.Now()); err != nil {
					return err
				}
				_, err := tx.SetMemberRole(ctx, org, member.UserID, "viewer", te.Env.Clock.Now())
				return err
			})
		})
		for i := range changers {
			wg.Go(func() {
				<-start
				codes[i] = te.do(t, "PATCH", "/orgs/"+org+"/members/"+member.UserID,
					map[string]string{"role": "operator"}, bearer(admin.AccessToken)).Code
			})
		}
		close(start)
		wg.Wait()
		if demoteErr != nil {
			t.Fatal(demoteErr)
		}
		for i, c := range codes {
			switch c {
			case http.StatusOK:
				accepted++
			case http.StatusForbidden, http.StatusTooManyRequests:
			default:
				t.Fatalf("round %d, change %d: %d", round, i, c)
			}
		}
		if got := te.orgRole(t, org, owner.AccessToken, member.UserID); got != "viewer" {
			t.Fatalf("round %d: the member is %q: a change by the admin landed after the demotion", round, got)
		}
	}
	t.Logf("%d of %d changes were accepted (committed before the demotion)", accepted, rounds*changers)
}

// Accepting an invitation re-checks its inviter: one sent by an admin who
// has since been demoted gives nothing, and stays pending; one whose
// inviter still holds the role's permissions works. Before, any pending
// invitation joined the invitee whatever had become of its inviter.
//
// Controls: AUTHZ-2, AUTHZ-1
func TestInvitationRechecksInviter(t *testing.T) {
	backends(t, func(t *testing.T, b bootstraptest.Backend) {
		te := newTestEnv(t, b)
		owner := te.signUp(t, "inv-owner@example.com", testPassword)
		org := te.orgCreate(t, owner.AccessToken, "Invites")
		admin := te.signUp(t, "inv-admin@example.com", testPassword)
		te.orgInviteAccept(t, org, owner.AccessToken, "inv-admin@example.com", "admin", admin.AccessToken)
		tok := te.orgInvite(t, org, admin.AccessToken, "inv-new@example.com", "operator")
		rec := te.do(t, "PATCH", "/orgs/"+org+"/members/"+admin.UserID, map[string]string{"role": "viewer"}, bearer(owner.AccessToken))
		extDecodeBody(t, rec, http.StatusOK, nil)
		invitee := te.signUp(t, "inv-new@example.com", testPassword)
		rec = te.do(t, "POST", "/invitations/accept", map[string]string{"token": tok}, bearer(invitee.AccessToken))
		if rec.Code != http.StatusForbidden || errorCode(rec) != "inviter_not_permitted" {
			t.Fatalf("accepting a demoted admin's invitation: %d %s", rec.Code, rec.Body)
		}
		if got := te.orgRole(t, org, owner.AccessToken, invitee.UserID); got != "" {
			t.Fatalf("the invitee joined as %q", got)
		}
		rec = te.do(t, "PATCH", "/orgs/"+org+"/members/"+admin.UserID, map[string]string{"role": "admin"}, bearer(owner.AccessToken))
		extDecodeBody(t, rec, http.StatusOK, nil)
		rec = te.do(t, "POST", "/invitations/accept", map[string]string{"token": tok}, bearer(invitee.AccessToken))
		extDecodeBody(t, rec, http.StatusOK, nil)
		if got := te.orgRole(t, org, owner.AccessToken, invitee.UserID); got != "operator" {
			t.Fatalf("the invitee is %q after the inviter was restored", got)
		}
	})
}
