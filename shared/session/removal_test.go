package session

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/shared/bootstrap/bootstraptest"
	"github.com/gatehouse-dev/gatehouse/shared/notify"
	"github.com/gatehouse-dev/gatehouse/shared/store"
)

// RemoveSignInMethod ends the other sessions only with the removal: a
// failing removal rolls the sign-out back and tells no one; a committed one
// ends every session but the kept one, audits the count and notifies.
//
// Controls: AUTH-14, AUTH-6
func TestRemoveSignInMethod(t *testing.T) {
	for _, be := range bootstraptest.Backends {
		t.Run(be.Name, func(t *testing.T) {
			f := newFixture(t, be.Open(t))
			ctx := context.Background()
			keep, other, third := f.signIn(t), f.signIn(t), f.signIn(t)
			alerts := func() []notify.Message {
				msgs, err := f.env.Mailbox.List()
				if err != nil {
					t.Fatal(err)
				}
				var out []notify.Message
				for _, m := range msgs {
					if m.Kind == notify.KindAlert {
						out = append(out, m)
					}
				}
				return out
			}
			errRemove := errors.New("removal failed")
			err := f.m.RemoveSignInMethod(ctx, "u1", keep.SessionID, ReasonTOTPDisabled, func(tx store.Store) error {
				return errRemove
			})
			if !errors.Is(err, errRemove) {
				t.Fatalf("err = %v, want the removal's", err)
			}
			err = f.env.Store.Tx(ctx, func(tx store.Store) error {
				if err := f.m.RevokeOtherSessions(ctx, tx, "u1", keep.SessionID, ReasonTOTPDisabled); err != nil {
					return err
				}
				return errRemove
			})
			if !errors.Is(err, errRemove) {
				t.Fatal(err)
			}
			for _, tr := range []TokenResponse{keep, other, third} {
				if _, err := f.m.Check(ctx, tr.AccessToken); err != nil {
					t.Fatalf("a rolled-back removal ended session %s: %v", tr.SessionID, err)
				}
			}
			if msgs := alerts(); len(msgs) != 0 {
				t.Fatalf("%d notices for a removal that did not happen", len(msgs))
			}

			removed := false
			err = f.m.RemoveSignInMethod(ctx, "u1", keep.SessionID, ReasonPasskeyRemoved, func(tx store.Store) error {
				removed = true
				return nil
			})
			if err != nil || !removed {
				t.Fatalf("remove: %v (ran: %v)", err, removed)
			}
			if _, err := f.m.Check(ctx, keep.AccessToken); err != nil {
				t.Fatalf("the kept session was ended: %v", err)
			}
			for _, tr := range []TokenResponse{other, third} {
				if _, err := f.m.Check(ctx, tr.AccessToken); err == nil {
					t.Fatalf("session %s survived the removal", tr.SessionID)
				}
				s, err := f.env.Store.Session(ctx, tr.SessionID)
				if err != nil || s.RevokeReason != ReasonPasskeyRemoved {
					t.Fatalf("session %s: reason %q, %v", tr.SessionID, s.RevokeReason, err)
				}
			}
			evs, err := f.env.Store.AuditEvents(ctx, 0, 100)
			if err != nil {
				t.Fatal(err)
			}
			last := evs[len(evs)-1]
			if last.Action != "auth.sessions_revoked" || !strings.Contains(string(last.Metadata), `"count":2`) ||
				!strings.Contains(string(last.Metadata), `"reason":"passkey_removed"`) {
				t.Fatalf("audit: %s %s", last.Action, last.Metadata)
			}
			msgs := alerts()
			if len(msgs) != 1 {
				t.Fatalf("%d notices, want 1", len(msgs))
			}
			if m := msgs[0]; m.To != "u1@example.com" || m.Kind != notify.KindAlert ||
				m.Subject != "A passkey was removed from your account" || !strings.Contains(m.Text, "Every other session") {
				t.Fatalf("notice %+v", m)
			}

			// Keeping none ends them all.
			if err := f.m.RemoveSignInMethod(ctx, "u1", "", ReasonPasswordReset, func(store.Store) error { return nil }); err != nil {
				t.Fatal(err)
			}
			if _, err := f.m.Check(ctx, keep.AccessToken); err == nil {
				t.Fatal("keeping none kept a session")
			}
		})
	}
}

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
