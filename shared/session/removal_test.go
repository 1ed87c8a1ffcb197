package session

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/shared/bootstrap/bootstraptest"
	"github.com/gatehouse-dev/gatehouse/shared/store"
)

// RevokeOtherSessions ends the user's other sessions in the caller's
// transaction, keeps the one named, and audits the count; a rolled-back
// transaction ends nothing.
//
// Controls: AUTH-14
func TestRevokeOtherSessions(t *testing.T) {
	for _, be := range bootstraptest.Backends {
		t.Run(be.Name, func(t *testing.T) {
			f := newFixture(t, be.Open(t))
			ctx := context.Background()
			keep, other := f.signIn(t), f.signIn(t)
			errRollback := errors.New("rollback")
			err := f.env.Store.Tx(ctx, func(tx store.Store) error {
				if err := f.m.RevokeOtherSessions(ctx, tx, "u1", keep.SessionID, "identity_unlinked"); err != nil {
					return err
				}
				return errRollback
			})
			if !errors.Is(err, errRollback) {
				t.Fatal(err)
			}
			if _, err := f.m.Check(ctx, other.AccessToken); err != nil {
				t.Fatalf("a rolled-back revocation ended a session: %v", err)
			}
			if err := f.env.Store.Tx(ctx, func(tx store.Store) error {
				return f.m.RevokeOtherSessions(ctx, tx, "u1", keep.SessionID, "identity_unlinked")
			}); err != nil {
				t.Fatal(err)
			}
			if _, err := f.m.Check(ctx, other.AccessToken); err == nil {
				t.Fatal("the other session still works")
			}
			if _, err := f.m.Check(ctx, keep.AccessToken); err != nil {
				t.Fatalf("the kept session was ended: %v", err)
			}
			evs, err := f.env.Store.AuditEvents(ctx, 0, 100)
			if err != nil {
				t.Fatal(err)
			}
			last := evs[len(evs)-1]
			if last.Action != "auth.sessions_revoked" || !strings.Contains(string(last.Metadata), `"count":1`) ||
				!strings.Contains(string(last.Metadata), `"reason":"identity_unlinked"`) {
				t.Fatalf("audit: %s %s", last.Action, last.Metadata)
			}
		})
	}
}
