package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/audit"
	"github.com/gatehouse-dev/gatehouse/shared/events"
	"github.com/gatehouse-dev/gatehouse/shared/notify"
	"github.com/gatehouse-dev/gatehouse/shared/session"
	"github.com/gatehouse-dev/gatehouse/shared/store"
	"github.com/gatehouse-dev/gatehouse/shared/web"
)

// userJSON is a user as the API shows it; the password hash never leaves.
type userJSON struct {
	ID              string     `json:"id"`
	Email           string     `json:"email"`
	Name            string     `json:"name"`
	EmailVerifiedAt *time.Time `json:"email_verified_at"`
	CreatedAt       time.Time  `json:"created_at"`
	HasPassword     bool       `json:"has_password"`
}

func toUserJSON(u store.User) userJSON {
	j := userJSON{ID: u.ID, Email: u.Email, Name: u.Name, CreatedAt: u.CreatedAt.UTC(), HasPassword: u.PasswordHash != ""}
	if !u.EmailVerifiedAt.IsZero() {
		t := u.EmailVerifiedAt.UTC()
		j.EmailVerifiedAt = &t
	}
	return j
}

type meResponse struct {
	User       userJSON    `json:"user"`
	MFAMethods []string    `json:"mfa_methods"`
	Session    sessionJSON `json:"session"`
}

// handleMe serves GET /me.
func (s *Server) handleMe(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	p, _ := session.FromContext(ctx)
	prof, err := s.d.Store.Profile(ctx, p.UserID, p.SessionID) // one round trip
	if err != nil {
		return web.Unavailable(err)
	}
	return web.WriteTokenJSON(w, http.StatusOK, meResponse{User: toUserJSON(prof.User),
		MFAMethods: nonNil(s.ext.ProfileMethods(prof)), Session: toSessionJSON(prof.Session, p.SessionID)})
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

type deviceJSON struct {
	DeviceID    string    `json:"device_id"`
	Network     string    `json:"network"`
	FirstSeenAt time.Time `json:"first_seen_at"`
	LastSeenAt  time.Time `json:"last_seen_at"`
}

type auditJSON struct {
	Seq      int64     `json:"seq"`
	Time     time.Time `json:"time"`
	Action   string    `json:"action"`
	Target   string    `json:"target"`
	Outcome  string    `json:"outcome"`
	Network  string    `json:"network"`
	Metadata string    `json:"metadata"`
}

type exportResponse struct {
	User        userJSON       `json:"user"`
	Sessions    []sessionJSON  `json:"sessions"`
	Devices     []deviceJSON   `json:"devices"`
	Identities  []identityJSON `json:"identities"`
	AuditEvents []auditJSON    `json:"audit_events"`
	Extension   map[string]any `json:"organizations_and_mfa"`
}

// identityJSON is a linked sign-in provider account.
type identityJSON struct {
	ID        string    `json:"id"`
	Provider  string    `json:"provider"`
	Subject   string    `json:"subject"`
	CreatedAt time.Time `json:"created_at"`
}

// maxExportEvents bounds the audit events one export lists.
const maxExportEvents = 10000

// handleExport serves GET /me/export: everything stored about the user,
// secrets (password hash, token hashes, sealed keys) excluded.
func (s *Server) handleExport(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	p, _ := session.FromContext(ctx)
	out, err := s.export(ctx, p)
	if err != nil {
		return keepWebError(err)
	}
	w.Header().Set("Content-Disposition", `attachment; filename="gatehouse-export.json"`)
	return web.WriteTokenJSON(w, http.StatusOK, out)
}

func (s *Server) export(ctx context.Context, p session.Principal) (exportResponse, error) {
	var out exportResponse
	u, err := s.d.Store.User(ctx, p.UserID)
	if err != nil {
		return out, err
	}
	out.User = toUserJSON(u)
	// Every stored session, ended ones too (until the retention purge).
	sessions, err := s.d.Store.UserSessionHistory(ctx, p.UserID)
	if err != nil {
		return out, err
	}
	out.Sessions = make([]sessionJSON, 0, len(sessions))
	for _, sess := range sessions {
		out.Sessions = append(out.Sessions, toSessionJSON(sess, p.SessionID))
	}
	devices, err := s.d.Store.UserDevices(ctx, p.UserID)
	if err != nil {
		return out, err
	}
	out.Devices = make([]deviceJSON, 0, len(devices))
	for _, d := range devices {
		out.Devices = append(out.Devices, deviceJSON{DeviceID: d.DeviceID, Network: d.Network,
			FirstSeenAt: d.FirstSeenAt.UTC(), LastSeenAt: d.LastSeenAt.UTC()})
	}
	ids, err := s.d.Store.UserIdentities(ctx, p.UserID)
	if err != nil {
		return out, err
	}
	out.Identities = make([]identityJSON, 0, len(ids))
	for _, id := range ids {
		out.Identities = append(out.Identities, identityJSON{ID: id.ID, Provider: id.Provider, Subject: id.Subject, CreatedAt: id.CreatedAt.UTC()})
	}
	if out.AuditEvents, err = s.userEvents(ctx, p.UserID); err != nil {
		return out, err
	}
	if out.Extension, err = s.ext.Export(ctx, p.UserID); err != nil {
		return out, err
	}
	return out, nil
}

// userEvents lists the audit events about the user: performed by them or
// naming them as target (a role change by an admin, a failed sign-in).
func (s *Server) userEvents(ctx context.Context, userID string) ([]auditJSON, error) {
	out := []auditJSON{}
	var after int64
	for len(out) < maxExportEvents {
		evs, err := s.d.Store.UserAuditEvents(ctx, userID, after, 500)
		if err != nil {
			return nil, err
		}
		for _, e := range evs {
			out = append(out, auditJSON{Seq: e.Seq, Time: e.Time.UTC(), Action: e.Action, Target: e.Target,
				Outcome: string(e.Outcome), Network: e.Network, Metadata: e.Metadata})
			after = e.Seq
		}
		if len(evs) < 500 {
			break
		}
	}
	return out, nil
}

// handleDeleteMe serves DELETE /me (step-up required). In one transaction
// the extension removes its data (refusing, 409 sole_owner, while the user
// solely owns an organization), the deletion is audited, and the user row
// is deleted with everything that references it. Audit events keep the
// opaque user id, which from then on names no one: that is the
// pseudonymization (the audit log is append-only and cannot be rewritten).
func (s *Server) handleDeleteMe(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	if err := s.sessions.RequireRecentAuth(ctx); err != nil {
		return err
	}
	p, _ := session.FromContext(ctx)
	if _, err := s.deleteAccount(ctx, p.UserID, audit.Event{Actor: p.UserID, Action: "user.delete",
		Target: p.UserID, Network: s.network(r)}); err != nil {
		return err
	}
	session.SignedOut(w, r)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// deleteAccount deletes userID as account deletion does, whoever asks (the
// user, or an operator through the admin API): in one transaction the
// extension removes its data (refusing, 409 sole_owner, while the user
// solely owns an organization), every session ends, e (the deletion's
// audit event) is recorded and the user row is deleted with everything
// that references it. The address that held the account is then told.
// Errors are *web.Error: 404 for an unknown user.
func (s *Server) deleteAccount(ctx context.Context, userID string, e audit.Event) (store.User, error) {
	var u store.User
	err := s.d.Store.Tx(ctx, func(tx store.Store) error {
		var err error
		if u, err = tx.User(ctx, userID); errors.Is(err, store.ErrNotFound) {
			return web.NotFound().WithCause(err)
		} else if err != nil {
			return err
		}
		if err := s.ext.BeforeDelete(ctx, tx, userID, deletedBy(e)); err != nil {
			return err
		}
		if err := s.sessions.RevokeAllForUser(ctx, tx, userID); err != nil {
			return err
		}
		if _, err := s.d.Audit.RecordTx(ctx, tx, e); err != nil {
			return err
		}
		if err := tx.ClearLockout(ctx, session.LockoutKey(u.Email)); err != nil {
			return err
		}
		if err := tx.DeleteUser(ctx, userID); err != nil {
			return fmt.Errorf("delete user: %w", err)
		}
		return s.d.Events.Emit(ctx, tx, events.User(events.UserDeleted, events.UserData{UserID: userID, By: deletedBy(e)}))
	})
	if err := keepWebError(err); err != nil {
		return u, err
	}
	s.notifyDeleted(ctx, u.Email)
	return u, nil
}

// notifyDeleted confirms the deletion to the address that held the
// account; the address is not kept afterwards.
func (s *Server) notifyDeleted(ctx context.Context, email string) {
	err := s.d.Notifier.Notify(ctx, notify.Message{To: email, Kind: notify.KindAlert,
		Subject: "Your account was deleted",
		Text:    "Your account and its personal data were deleted. If you did not do this, contact support."})
	if err != nil {
		s.d.Logger.ErrorContext(ctx, "deletion notice not sent", "error", err.Error())
	}
}

// deletedBy says who deleted an account, from the audit event of the
// deletion: the user themself or an operator.
func deletedBy(e audit.Event) string {
	if e.Actor == e.Target {
		return "user"
	}
	return "operator"
}
