package session

import (
	"context"
	"fmt"

	"github.com/gatehouse-dev/gatehouse/shared/audit"
	"github.com/gatehouse-dev/gatehouse/shared/events"
	"github.com/gatehouse-dev/gatehouse/shared/notify"
	"github.com/gatehouse-dev/gatehouse/shared/store"
)

// Reasons a way of signing in changed (AUTH-14). Each is the revoke reason
// of the sessions it ends, the "reason" of its auth.sessions_revoked audit
// event, and picks the text of the notice the user gets.
const (
	ReasonPasswordChanged       = "password_changed"
	ReasonPasswordReset         = "password_reset"
	ReasonTOTPDisabled          = "totp_disabled"
	ReasonPasskeyRemoved        = "passkey_removed"
	ReasonRecoveryCodesReplaced = "recovery_codes_replaced"
	ReasonIdentityUnlinked      = "identity_unlinked"
	ReasonTOTPEnabled           = "totp_enabled"
	ReasonPasskeyAdded          = "passkey_added"
	ReasonMFAReset              = "mfa_reset" // by an operator, through the admin API
)

// changeNotices are the notices of the known reasons: what happened, as
// the subject and the start of the text.
var changeNotices = map[string]struct{ subject, what string }{
	ReasonPasswordChanged:       {"Your password was changed", "The password of your account was just changed."},
	ReasonPasswordReset:         {"Your password was reset", "The password of your account was just reset with an e-mailed link."},
	ReasonTOTPDisabled:          {"Two-step sign-in with an app was turned off", "The authenticator app was just removed from your account."},
	ReasonPasskeyRemoved:        {"A passkey was removed from your account", "A passkey was just removed from your account."},
	ReasonRecoveryCodesReplaced: {"Your recovery codes were replaced", "New recovery codes were just made for your account; the old ones no longer work."},
	ReasonIdentityUnlinked:      {"A sign-in account was unlinked", "A linked sign-in account (Google, GitHub or your organization's) was just removed from your account."},
	ReasonTOTPEnabled:           {"Two-step sign-in with an app was turned on", "An authenticator app was just added to your account."},
	ReasonPasskeyAdded:          {"A passkey was added to your account", "A passkey was just added to your account."},
	ReasonMFAReset: {"Two-step sign-in was reset on your account", "Support just removed every second factor " +
		"(authenticator app, passkeys and recovery codes) from your account; set up two-step sign-in again after you sign in."},
}

// RevokeOtherSessions ends every session of userID but keep (the session
// that made the change; "" ends them all) through tx, with reason as the
// revoke reason, and audits auth.sessions_revoked. Call it inside the
// transaction that removes a way of signing in, so the removal and the
// sign-out commit together or not at all; then, once that commits,
// [Manager.NotifySignInChange]. [Manager.RemoveSignInMethod] does both.
//
// It ends sessions only through the store's revoke methods
// ([store.Sessions.RevokeUserSessions], [store.Sessions.RevokeSession]),
// which announce every revocation to session caches.
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
	if _, err := m.audit.RecordTx(ctx, tx, audit.Event{Actor: userID, Action: "auth.sessions_revoked", Target: userID,
		Metadata: map[string]any{"reason": reason, "count": n, "kept": keep != ""}}); err != nil {
		return err
	}
	return m.emitRevoked(ctx, tx, n, events.SessionRevokedData{UserID: userID, Reason: reason})
}

// emitRevoked emits session.revoked through tx when n sessions ended.
func (m *Manager) emitRevoked(ctx context.Context, tx store.Store, n int64, d events.SessionRevokedData) error {
	if n == 0 {
		return nil
	}
	return m.events.Emit(ctx, tx, events.SessionsRevoked(d))
}

// RemoveSignInMethod runs remove (the removal of a way of signing in: a
// factor, a linked identity, the old password) in one transaction with
// [Manager.RevokeOtherSessions], then tells the user what changed and that
// their other sessions were signed out. remove may run more than once
// (see [store.Store.Tx]); its error is returned as is and nothing commits.
func (m *Manager) RemoveSignInMethod(ctx context.Context, userID, keep, reason string, remove func(tx store.Store) error) error {
	err := m.store.Tx(ctx, func(tx store.Store) error {
		if err := remove(tx); err != nil {
			return err
		}
		return m.RevokeOtherSessions(ctx, tx, userID, keep, reason)
	})
	if err != nil {
		return err
	}
	m.NotifySignInChange(ctx, userID, reason, true)
	return nil
}

// NotifySignInChange tells userID that a way of signing in changed for
// reason, and, when signedOut, that their other sessions were ended. Call
// it after the change committed. A failure is logged, not returned: the
// change has happened either way.
func (m *Manager) NotifySignInChange(ctx context.Context, userID, reason string, signedOut bool) {
	n, ok := changeNotices[reason]
	if !ok {
		n.subject, n.what = "A way of signing in to your account changed", "A way of signing in to your account was just changed."
	}
	text := n.what
	if signedOut {
		text += " Every other session of your account was signed out."
	}
	text += " If this was not you, reset your password now and review your account's sign-in methods."
	u, err := m.store.User(ctx, userID)
	if err == nil {
		err = m.notifier.Notify(ctx, notify.Message{To: u.Email, Kind: notify.KindAlert, Subject: n.subject, Text: text})
	}
	if err != nil {
		m.logger.ErrorContext(ctx, "sign-in change notice not sent", "user", userID, "reason", reason, "error", err.Error())
	}
}
