package auth

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/audit"
	"github.com/gatehouse-dev/gatehouse/shared/events"
	"github.com/gatehouse-dev/gatehouse/shared/mfa"
	"github.com/gatehouse-dev/gatehouse/shared/ratelimit"
	"github.com/gatehouse-dev/gatehouse/shared/session"
	"github.com/gatehouse-dev/gatehouse/shared/store"
	"github.com/gatehouse-dev/gatehouse/shared/web"
)

// registerMFA adds the routes a signed-in user manages factors with.
// Removing or replacing a factor, and adding one, need a recent
// authentication (AUTH-12): a stolen session alone cannot swap the factors.
func (x *ext) registerMFA(mux *http.ServeMux) {
	mux.Handle("GET /mfa", x.authed(x.mfaStatus))
	mux.Handle("POST /mfa/totp", x.authed(x.stepUp(x.mfaEnrollTOTP)))
	mux.Handle("POST /mfa/totp/confirm", x.authed(x.mfaConfirmTOTP))
	mux.Handle("DELETE /mfa/totp", x.authed(x.stepUp(x.mfaDisableTOTP)))
	mux.Handle("POST /mfa/recovery-codes", x.authed(x.stepUp(x.mfaRegenerateCodes)))
	mux.Handle("POST /mfa/webauthn/options", x.authed(x.stepUp(x.mfaWebAuthnOptions)))
	mux.Handle("POST /mfa/webauthn", x.authed(x.mfaWebAuthnRegister))
	mux.Handle("PATCH /mfa/webauthn/{id}", x.authed(x.mfaWebAuthnRename))
	mux.Handle("DELETE /mfa/webauthn/{id}", x.authed(x.stepUp(x.mfaWebAuthnDelete)))
	mux.Handle("POST /mfa/webauthn/step-up/options", x.authed(x.mfaStepUpOptions))
}

// stepUp refuses the request with 403 reauthentication_required unless the
// session authenticated within the step-up window.
func (x *ext) stepUp(h web.HandlerFunc) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := x.sessions.RequireRecentAuth(r.Context()); err != nil {
			return err
		}
		return h(w, r)
	}
}

// mfaEnrollLimit bounds, per user, the attempts to finish enrolling a
// factor (a TOTP confirmation code, a passkey registration): ten in 15
// minutes, so the first TOTP code cannot be guessed either.
var mfaEnrollLimit = ratelimit.MFAEnrollUser

// mfaChange runs change in one transaction with the audit event action
// (AUTHZ-4: a change is never committed without its event). change gets
// the MFA service and WebAuthn relying party bound to the transaction, and
// returns the event's metadata.
func (x *ext) mfaChange(r *http.Request, action string, change func(svc *mfa.Service, wa *mfa.WebAuthn) (map[string]any, error)) error {
	user := extUserID(r)
	return x.d.Store.Tx(r.Context(), func(tx store.Store) error {
		meta, err := change(x.mfa.In(tx), x.webauthn.In(tx))
		if err != nil {
			return err
		}
		if err := x.record(r, tx, audit.Event{Actor: user, Action: action, Target: "user:" + user, Metadata: meta}); err != nil {
			return err
		}
		return x.emitMFA(r.Context(), tx, action, user)
	})
}

// mfaEventChanges names the mfa.changed change of each audited factor
// change that has one (enrolling TOTP is not one until it is confirmed).
var mfaEventChanges = map[string]string{
	"mfa.totp.confirm":              "totp_enabled",
	"mfa.totp.disable":              "totp_disabled",
	"mfa.recovery_codes.regenerate": "recovery_codes_replaced",
	"mfa.webauthn.register":         "passkey_added",
	"mfa.webauthn.delete":           "passkey_removed",
}

// emitMFA emits mfa.changed through tx for the factor change action.
func (x *ext) emitMFA(ctx context.Context, tx store.Store, action, userID string) error {
	change, ok := mfaEventChanges[action]
	if !ok {
		return nil
	}
	return x.d.Events.Emit(ctx, tx, events.MFA(userID, change))
}

// mfaRemove is [ext.mfaChange] for a change that removes a way of signing
// in (AUTH-14): in the same transaction it ends every other session of the
// user, and once that commits the user is told. The request's own session
// stays: it has just passed the step-up check.
func (x *ext) mfaRemove(r *http.Request, action, reason string, change func(svc *mfa.Service, wa *mfa.WebAuthn) (map[string]any, error)) error {
	p, _ := session.FromContext(r.Context())
	return x.sessions.RemoveSignInMethod(r.Context(), p.UserID, p.SessionID, reason, func(tx store.Store) error {
		meta, err := change(x.mfa.In(tx), x.webauthn.In(tx))
		if err != nil {
			return err
		}
		if err := x.record(r, tx, audit.Event{Actor: p.UserID, Action: action, Target: "user:" + p.UserID, Metadata: meta}); err != nil {
			return err
		}
		return x.emitMFA(r.Context(), tx, action, p.UserID)
	})
}

type mfaCredentialJSON struct {
	ID           string     `json:"id"`
	Name         string     `json:"name"`
	Transports   []string   `json:"transports"`
	CloneWarning bool       `json:"clone_warning"`
	CreatedAt    time.Time  `json:"created_at"`
	LastUsedAt   *time.Time `json:"last_used_at,omitempty"`
}

// mfaStatus answers GET /mfa: the enrolled factors, never their secrets.
func (x *ext) mfaStatus(w http.ResponseWriter, r *http.Request) error {
	st, err := x.mfaSummary(r, extUserID(r))
	if err != nil {
		return err
	}
	return web.WriteJSON(w, http.StatusOK, st)
}

type mfaSummaryJSON struct {
	Methods           []string            `json:"methods"`
	TOTPEnabled       bool                `json:"totp_enabled"`
	WebAuthn          []mfaCredentialJSON `json:"webauthn_credentials"`
	RecoveryCodesLeft int                 `json:"recovery_codes_left"`
}

func (x *ext) mfaSummary(r *http.Request, userID string) (mfaSummaryJSON, error) {
	ctx := r.Context()
	methods, err := x.mfa.Methods(ctx, userID)
	if err != nil {
		return mfaSummaryJSON{}, extUnavailable(err)
	}
	creds, err := x.d.Store.WebAuthnCredentials(ctx, userID)
	if err != nil {
		return mfaSummaryJSON{}, extUnavailable(err)
	}
	left, err := x.d.Store.RecoveryCodesLeft(ctx, userID)
	if err != nil {
		return mfaSummaryJSON{}, extUnavailable(err)
	}
	out := mfaSummaryJSON{Methods: append([]string{}, methods...), RecoveryCodesLeft: left,
		WebAuthn: []mfaCredentialJSON{}}
	for _, m := range methods {
		out.TOTPEnabled = out.TOTPEnabled || m == mfa.MethodTOTP
	}
	for _, c := range creds {
		j := mfaCredentialJSON{ID: c.ID, Name: c.Name, Transports: append([]string{}, c.Transports...), CloneWarning: c.CloneWarning, CreatedAt: c.CreatedAt}
		if !c.LastUsedAt.IsZero() {
			j.LastUsedAt = &c.LastUsedAt
		}
		out.WebAuthn = append(out.WebAuthn, j)
	}
	return out, nil
}

// mfaEnrollTOTP answers POST /mfa/totp: a new secret and its otpauth URI,
// shown this once (the response is not cacheable).
func (x *ext) mfaEnrollTOTP(w http.ResponseWriter, r *http.Request) error {
	if err := extEmptyBody(r); err != nil {
		return err
	}
	userID := extUserID(r)
	account := userID
	if u, err := x.d.Store.User(r.Context(), userID); err == nil {
		account = u.Email
	}
	var en mfa.TOTPEnrollment
	err := x.mfaChange(r, "mfa.totp.enroll", func(svc *mfa.Service, _ *mfa.WebAuthn) (map[string]any, error) {
		var err error
		en, err = svc.EnrollTOTP(r.Context(), userID, account)
		return nil, err
	})
	if errors.Is(err, mfa.ErrAlreadyEnrolled) {
		return web.Conflict("already_enrolled", "TOTP is already enabled; disable it first.")
	}
	if err != nil {
		return extUnavailable(err)
	}
	return web.WriteTokenJSON(w, http.StatusCreated, map[string]string{"secret": en.Secret.Base32(), "otpauth_uri": en.URI})
}

// mfaConfirmTOTP answers POST /mfa/totp/confirm {code}: the secret becomes
// active and ten recovery codes are returned, shown this once.
func (x *ext) mfaConfirmTOTP(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Code string `json:"code"`
	}
	if err := extDecode(r, &req, func(v *web.Validator) { v.Length("code", req.Code, 6, 16) }); err != nil {
		return err
	}
	if err := x.allowKey(r, mfaEnrollLimit, extUserID(r)); err != nil {
		return err
	}
	var codes []string
	err := x.mfaChange(r, "mfa.totp.confirm", func(svc *mfa.Service, _ *mfa.WebAuthn) (map[string]any, error) {
		var err error
		codes, err = svc.ConfirmTOTP(r.Context(), extUserID(r), req.Code)
		return nil, err
	})
	switch {
	case errors.Is(err, mfa.ErrNotEnrolled):
		return web.Conflict("not_enrolled", "Start TOTP enrollment first.")
	case errors.Is(err, mfa.ErrAlreadyEnrolled):
		return web.Conflict("already_enrolled", "TOTP is already enabled.")
	case errors.Is(err, mfa.ErrInvalidCode):
		return web.BadRequest("invalid_code", "The code is not correct.")
	case err != nil:
		return extUnavailable(err)
	}
	x.sessions.NotifySignInChange(r.Context(), extUserID(r), session.ReasonTOTPEnabled, false)
	return web.WriteTokenJSON(w, http.StatusOK, map[string]any{"recovery_codes": codes})
}

// mfaDisableTOTP answers DELETE /mfa/totp.
func (x *ext) mfaDisableTOTP(w http.ResponseWriter, r *http.Request) error {
	err := x.mfaRemove(r, "mfa.totp.disable", session.ReasonTOTPDisabled, func(svc *mfa.Service, _ *mfa.WebAuthn) (map[string]any, error) {
		return nil, svc.DisableTOTP(r.Context(), extUserID(r))
	})
	if errors.Is(err, mfa.ErrNotEnrolled) {
		return web.NotFound()
	}
	if err != nil {
		return extUnavailable(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// mfaRegenerateCodes answers POST /mfa/recovery-codes: ten new codes
// replace every old one.
func (x *ext) mfaRegenerateCodes(w http.ResponseWriter, r *http.Request) error {
	if err := extEmptyBody(r); err != nil {
		return err
	}
	var codes []string
	err := x.mfaRemove(r, "mfa.recovery_codes.regenerate", session.ReasonRecoveryCodesReplaced, func(svc *mfa.Service, _ *mfa.WebAuthn) (map[string]any, error) {
		var err error
		codes, err = svc.RegenerateRecoveryCodes(r.Context(), extUserID(r))
		return nil, err
	})
	if errors.Is(err, mfa.ErrNotEnrolled) {
		return web.Conflict("not_enrolled", "Enable TOTP or a passkey first.")
	}
	if err != nil {
		return extUnavailable(err)
	}
	return web.WriteTokenJSON(w, http.StatusOK, map[string]any{"recovery_codes": codes})
}

// extDecode decodes the JSON body strictly into dst and runs check on a
// validator; either failing is a 400 naming the fields.
func extDecode(r *http.Request, dst any, check func(v *web.Validator)) error {
	if err := web.DecodeJSON(r, dst); err != nil {
		return err
	}
	v := web.NewValidator()
	check(v)
	return v.Err()
}

// extEmptyBody accepts no body, or an empty JSON object.
func extEmptyBody(r *http.Request) error {
	if r.ContentLength == 0 && r.Header.Get("Content-Type") == "" {
		return nil
	}
	var empty struct{}
	return web.DecodeJSON(r, &empty)
}
