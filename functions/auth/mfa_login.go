package auth

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"

	"github.com/gatehouse-dev/gatehouse/shared/audit"
	"github.com/gatehouse-dev/gatehouse/shared/mfa"
	"github.com/gatehouse-dev/gatehouse/shared/ratelimit"
	"github.com/gatehouse-dev/gatehouse/shared/session"
	"github.com/gatehouse-dev/gatehouse/shared/store"
	"github.com/gatehouse-dev/gatehouse/shared/web"
)

// mfaPasskeyOptionsLimit bounds passwordless sign-in ceremonies started
// from one network (each stores a ceremony row).
var mfaPasskeyOptionsLimit = ratelimit.PasskeyOptionsNetwork

// mfaInvalid is the one answer to a second factor that was not accepted,
// whatever the reason (wrong, replayed, unknown ceremony, cloned key).
var mfaInvalid = web.Unauthorized("invalid_credentials", "The code or passkey was not accepted.")

// registerMFALogin adds the second steps of sign-in. Each consumes the
// mfa_token /login returned (single use: a failed attempt starts the
// sign-in over), is rate limited and counted toward the lockout by the
// session manager, and on success completes the sign-in. Every check of
// the request (client mode and Origin, input, limits, lockout) runs before
// the token, a recovery code or a passkey ceremony is spent (AUTH-15). A
// correct second factor never resets the password lockout counter.
func (x *ext) registerMFALogin(mux *http.ServeMux) {
	mux.Handle("POST /login/totp", x.handle(x.mfaLoginTOTP))
	mux.Handle("POST /login/recovery-code", x.handle(x.mfaLoginRecoveryCode))
	mux.Handle("POST /login/webauthn/options", x.handle(x.mfaLoginWebAuthnOptions))
	mux.Handle("POST /login/webauthn", x.handle(x.mfaLoginWebAuthn))
}

type mfaCodeRequest struct {
	MFAToken string `json:"mfa_token"`
	Code     string `json:"code"`
}

func (req *mfaCodeRequest) check(v *web.Validator) {
	v.Length("mfa_token", req.MFAToken, 1, 256)
	v.Length("code", req.Code, 1, 64)
}

// mfaLoginTOTP answers POST /login/totp {mfa_token, code}.
func (x *ext) mfaLoginTOTP(w http.ResponseWriter, r *http.Request) error {
	return x.mfaLoginCode(w, r, "otp", x.mfa.VerifyTOTP)
}

// mfaLoginRecoveryCode answers POST /login/recovery-code {mfa_token, code}.
func (x *ext) mfaLoginRecoveryCode(w http.ResponseWriter, r *http.Request) error {
	return x.mfaLoginCode(w, r, "rc", x.mfa.UseRecoveryCode)
}

func (x *ext) mfaLoginCode(w http.ResponseWriter, r *http.Request, amr string,
	verify func(ctx context.Context, userID, code string) error) error {
	var req mfaCodeRequest
	if err := extDecode(r, &req, req.check); err != nil {
		return err
	}
	ctx := r.Context()
	grant, err := x.beginSecondFactor(r, req.MFAToken)
	if err != nil {
		return err
	}
	if err := verify(ctx, grant.UserID, req.Code); err != nil {
		return x.mfaFailed(r, grant.UserID, amr, err)
	}
	return x.sessions.CompleteSSO(ctx, w, r, grant.UserID, mfaMethods(grant.Methods, amr), grant.SSOOrg)
}

// beginSecondFactor runs every check of a second sign-in step (client
// mode and Origin, the token's validity, limits and lockout) and only then
// spends the MFA token (AUTH-15): a refused request leaves it usable.
func (x *ext) beginSecondFactor(r *http.Request, tok string) (session.MFAGrant, error) {
	if _, err := x.sessions.BeginSecondFactor(r.Context(), r, tok); err != nil {
		return session.MFAGrant{}, err
	}
	return x.sessions.ConsumeMFA(r.Context(), tok)
}

// mfaMethods returns the amr values of a sign-in: the first factor's
// (from the MFA token; "pwd" if it named none) and the second.
func mfaMethods(first []string, second string) []string {
	if len(first) == 0 {
		first = []string{"pwd"}
	}
	return append(append([]string{}, first...), second)
}

// mfaFailed handles a second factor that did not verify: a wrong code is
// counted toward the lockout, audited and answered with one 401; a
// dependency failure is a 503 and counts nothing.
func (x *ext) mfaFailed(r *http.Request, userID, amr string, err error) error {
	var we *web.Error
	switch {
	case errors.As(err, &we):
		return err
	case !mfaRejected(err):
		return extUnavailable(err)
	}
	ctx := r.Context()
	if errors.Is(err, mfa.ErrCloned) {
		x.mfaAudit(r, userID, "mfa.webauthn.clone_warning", store.OutcomeDenied, amr)
	}
	x.mfaAudit(r, userID, "auth.mfa", store.OutcomeFailure, amr)
	if err := x.sessions.SecondFactorFailed(ctx, r, userID); err != nil {
		return err
	}
	return mfaInvalid.WithCause(err)
}

// mfaRejected reports whether err means the factor was checked and refused.
func mfaRejected(err error) bool {
	for _, e := range []error{mfa.ErrInvalidCode, mfa.ErrReplay, mfa.ErrNotEnrolled, mfa.ErrWebAuthn, mfa.ErrCeremony, mfa.ErrCloned} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// mfaAudit records a second-factor event; a failure to record it is logged
// (the refusal stands either way).
func (x *ext) mfaAudit(r *http.Request, userID, action string, outcome store.Outcome, amr string) {
	err := x.record(r, x.d.Store, audit.Event{Actor: userID, Action: action, Target: "user:" + userID,
		Outcome: outcome, Metadata: map[string]any{"method": amr}})
	if err != nil {
		x.d.Logger.ErrorContext(r.Context(), "record second-factor event", "error", err.Error())
	}
}

// mfaLoginWebAuthnOptions answers POST /login/webauthn/options. With an
// mfa_token it starts the second step for that user (the token is spent
// here; the ceremony id carries the sign-in on); with an empty body it
// starts a passwordless sign-in with a discoverable passkey.
func (x *ext) mfaLoginWebAuthnOptions(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		MFAToken string `json:"mfa_token"`
	}
	if err := extDecode(r, &req, func(v *web.Validator) { v.Length("mfa_token", req.MFAToken, 0, 256) }); err != nil {
		return err
	}
	ctx := r.Context()
	var opts mfa.Options
	if req.MFAToken == "" {
		if err := x.allowNetwork(r, mfaPasskeyOptionsLimit); err != nil {
			return err
		}
		var err error
		if opts, err = x.webauthn.BeginPasskeyLogin(ctx); err != nil {
			return extUnavailable(err)
		}
		return web.WriteTokenJSON(w, http.StatusOK, opts)
	}
	peeked, err := x.sessions.BeginSecondFactor(ctx, r, req.MFAToken)
	if err != nil {
		return err
	}
	methods, err := x.mfa.Methods(ctx, peeked.UserID)
	if err != nil {
		return extUnavailable(err)
	}
	if !slices.Contains(methods, mfa.MethodWebAuthn) {
		return mfaInvalid
	}
	grant, err := x.sessions.ConsumeMFA(ctx, req.MFAToken)
	if err != nil {
		return err
	}
	opts, err = x.webauthn.BeginLogin(ctx, mfa.CeremonySecondFactor, grant.UserID,
		mfa.Prior{Methods: grant.Methods, SSOOrg: grant.SSOOrg})
	if errors.Is(err, mfa.ErrNotEnrolled) {
		return mfaInvalid
	}
	if err != nil {
		return extUnavailable(err)
	}
	return web.WriteTokenJSON(w, http.StatusOK, opts)
}

// mfaLoginWebAuthn answers POST /login/webauthn {ceremony, credential}:
// the second step (after a password) or a passwordless sign-in, whichever
// the ceremony was started as.
func (x *ext) mfaLoginWebAuthn(w http.ResponseWriter, r *http.Request) error {
	var req mfaCeremonyRequest
	if err := extDecode(r, &req, req.check); err != nil {
		return err
	}
	if err := x.sessions.CheckClient(r); err != nil {
		return err
	}
	ctx := r.Context()
	guard := func(ctx context.Context, userID string) error { return x.sessions.GuardSecondFactor(ctx, r, userID) }
	a, err := x.webauthn.FinishLogin(ctx, mfa.CeremonySecondFactor, req.Ceremony, req.Credential, guard)
	methods := mfaMethods(a.Prior.Methods, "hwk")
	if errors.Is(err, mfa.ErrCeremony) {
		// A passkey sign-in: the authenticator verified its user (required
		// by the ceremony), so possession and PIN or biometric are two factors.
		methods = []string{"hwk", "mfa"}
		a, err = x.webauthn.FinishLogin(ctx, mfa.CeremonyPasskey, req.Ceremony, req.Credential, guard)
	}
	switch {
	case err == nil:
		return x.sessions.CompleteSSO(ctx, w, r, a.UserID, methods, a.Prior.SSOOrg)
	case a.UserID == "" && mfaRejected(err):
		return mfaInvalid.WithCause(err)
	}
	return x.mfaFailed(r, a.UserID, "hwk", err)
}

// allowNetwork spends one request of limit for the client's network.
func (x *ext) allowNetwork(r *http.Request, limit ratelimit.Limit) error {
	return x.allowKey(r, limit, x.network(r))
}

// StepUp implements MFA: it verifies a second factor for POST
// /reauthenticate. proof is {"code": ...} for "totp" and "recovery_code",
// {"ceremony": ..., "credential": {...}} for "webauthn" (options from POST
// /mfa/webauthn/step-up/options). A refused factor is a 401
// invalid_credentials.
func (x *ext) StepUp(ctx context.Context, r *http.Request, userID, method string, proof json.RawMessage) error {
	var err error
	switch method {
	case mfa.MethodTOTP, mfa.MethodRecoveryCode:
		var p struct {
			Code string `json:"code"`
		}
		if err := extDecodeStrict(proof, &p); err != nil {
			return err
		}
		if method == mfa.MethodTOTP {
			err = x.mfa.VerifyTOTP(ctx, userID, p.Code)
		} else {
			err = x.mfa.UseRecoveryCode(ctx, userID, p.Code)
		}
	case mfa.MethodWebAuthn:
		var p mfaCeremonyRequest
		if err := extDecodeStrict(proof, &p); err != nil {
			return err
		}
		_, err = x.webauthn.FinishLogin(ctx, mfa.CeremonyStepUp, p.Ceremony, p.Credential,
			func(_ context.Context, owner string) error {
				if owner != userID {
					return mfa.ErrCeremony
				}
				return nil
			})
	default:
		return web.Invalid(map[string]string{"method": "must be one of: totp, recovery_code, webauthn"})
	}
	if err == nil {
		return nil
	}
	if mfaRejected(err) {
		if errors.Is(err, mfa.ErrCloned) {
			x.mfaAudit(r, userID, "mfa.webauthn.clone_warning", store.OutcomeDenied, "hwk")
		}
		return mfaInvalid.WithCause(err)
	}
	return extUnavailable(err)
}
