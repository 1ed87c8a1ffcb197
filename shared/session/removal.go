package session

import (
	"context"
	"fmt"

	"github.com/gatehouse-dev/gatehouse/shared/audit"
	"github.com/gatehouse-dev/gatehouse/shared/store"
)

// RevokeOtherSessions ends every session of userID but keep (the session
// that made the change; "" ends them all) through tx, with reason as the
// revoke reason, and audits auth.sessions_revoked. Call it inside the
// transaction that removes a way of signing in (AUTH-14: an unlinked
// identity, a removed factor, a changed password), so the removal and the
// sign-out commit together or not at all.
//
// It ends sessions only through the store's revoke methods
// ([store.Sessions.RevokeUserSessions], [store.Sessions.RevokeSession]).
func (m *Manager) RevokeOtherSessions(ctx context.Context, tx store.Store, userID, keep, reason string) error {
	now := m.now()
	var n int64
	if keep == "" {
		var err error
		if n, err = tx.RevokeUserSessions(ctx, userID, now, reason); err != nil {
			return fmt.Errorf("revoke sessions of user %s: %w", userID, err)
		}
	} else {
		// Every unrevoked row, expired ones too: an idle-expired session
		// must not come back to life through a clock or setting change.
		list, err := tx.UserSessionHistory(ctx, userID)
		if err != nil {
			return fmt.Errorf("list sessions of user %s: %w", userID, err)
		}
		for _, s := range list {
			if s.ID == keep || !s.RevokedAt.IsZero() {
				continue
			}
			if err := tx.RevokeSession(ctx, s.ID, now, reason); err != nil {
				return fmt.Errorf("revoke session %s: %w", s.ID, err)
			}
			n++
		}
	}
	_, err := m.audit.RecordTx(ctx, tx, audit.Event{Actor: userID, Action: "auth.sessions_revoked", Target: userID,
		Metadata: map[string]any{"reason": reason, "count": n, "kept": keep != ""}})
	return err
}
