package auth

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/gatehouse-dev/gatehouse/shared/audit"
	"github.com/gatehouse-dev/gatehouse/shared/mfa"
	"github.com/gatehouse-dev/gatehouse/shared/session"
	"github.com/gatehouse-dev/gatehouse/shared/store"
	"github.com/gatehouse-dev/gatehouse/shared/web"
)

// mfaCeremonyRequest is the body that finishes a WebAuthn ceremony: the
// ceremony id from the options and the PublicKeyCredential as JSON.
type mfaCeremonyRequest struct {
	Ceremony   string          `json:"ceremony"`
	Credential json.RawMessage `json:"credential"`
}

func (req *mfaCeremonyRequest) check(v *web.Validator) {
	v.Length("ceremony", req.Ceremony, 1, 64)
	v.Require(len(req.Credential) > 0 && req.Credential[0] == '{', "credential", "must be a PublicKeyCredential object")
}

// mfaWebAuthnOptions answers POST /mfa/webauthn/options: creation options
// for navigator.credentials.create and the ceremony id.
func (x *ext) mfaWebAuthnOptions(w http.ResponseWriter, r *http.Request) error {
	if err := extEmptyBody(r); err != nil {
		return err
	}
	userID := extUserID(r)
	name := userID
	if u, err := x.d.Store.User(r.Context(), userID); err == nil {
		name = u.Email
	}
	opts, err := x.webauthn.BeginRegistration(r.Context(), userID, name)
	if errors.Is(err, mfa.ErrTooManyCredentials) {
		return web.Conflict("too_many_credentials", "Remove a passkey before adding another.")
	}
	if err != nil {
		return extUnavailable(err)
	}
	return web.WriteTokenJSON(w, http.StatusOK, opts)
}

// mfaWebAuthnRegister answers POST /mfa/webauthn {ceremony, credential}.
func (x *ext) mfaWebAuthnRegister(w http.ResponseWriter, r *http.Request) error {
	var req mfaCeremonyRequest
	if err := extDecode(r, &req, req.check); err != nil {
		return err
	}
	if err := x.allowKey(r, mfaEnrollLimit, extUserID(r)); err != nil {
		return err
	}
	var c store.WebAuthnCredential
	err := x.mfaChange(r, "mfa.webauthn.register", func(_ *mfa.Service, wa *mfa.WebAuthn) (map[string]any, error) {
		var err error
		c, err = wa.FinishRegistration(r.Context(), extUserID(r), req.Ceremony, req.Credential)
		return map[string]any{"credential": c.ID}, err
	})
	switch {
	case errors.Is(err, mfa.ErrCeremony):
		return web.BadRequest("invalid_ceremony", "The registration expired or was already used; start again.")
	case errors.Is(err, mfa.ErrWebAuthn):
		return web.BadRequest("webauthn_failed", "The passkey could not be verified.").WithCause(err)
	case errors.Is(err, mfa.ErrAlreadyEnrolled):
		return web.Conflict("already_enrolled", "This passkey is already registered.")
	case err != nil:
		return extUnavailable(err)
	}
	x.sessions.NotifySignInChange(r.Context(), extUserID(r), session.ReasonPasskeyAdded, false)
	return web.WriteJSON(w, http.StatusCreated, mfaCredentialJSON{ID: c.ID, Transports: append([]string{}, c.Transports...),
		CreatedAt: c.CreatedAt})
}

// mfaWebAuthnRename answers PATCH /mfa/webauthn/{id} {name}: the owner
// names a passkey ("Work laptop"). Only the signed-in user's own
// credentials can be found; a name is 1 to 100 bytes of printable text.
// Naming changes no way of signing in, so it needs no step-up; it is
// audited.
func (x *ext) mfaWebAuthnRename(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if len(id) > 64 {
		return web.NotFound()
	}
	var req struct {
		Name string `json:"name"`
	}
	if err := extDecode(r, &req, func(v *web.Validator) {
		req.Name = strings.TrimSpace(req.Name)
		if v.Length("name", req.Name, 1, store.MaxWebAuthnNameLen) {
			v.Require(utf8.ValidString(req.Name) && !strings.ContainsFunc(req.Name, unicode.IsControl), "name",
				"must be printable text")
		}
	}); err != nil {
		return err
	}
	user := extUserID(r)
	err := x.d.Store.Tx(r.Context(), func(tx store.Store) error {
		if err := tx.RenameWebAuthnCredential(r.Context(), user, id, req.Name); err != nil {
			return err
		}
		return x.record(r, tx, audit.Event{Actor: user, Action: "mfa.webauthn.rename", Target: "user:" + user,
			Metadata: map[string]any{"credential": id}})
	})
	if errors.Is(err, store.ErrNotFound) {
		return web.NotFound()
	}
	if err != nil {
		return extUnavailable(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// mfaWebAuthnDelete answers DELETE /mfa/webauthn/{id}: only the signed-in
// user's own credentials can be found.
func (x *ext) mfaWebAuthnDelete(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if len(id) > 64 {
		return web.NotFound()
	}
	err := x.mfaRemove(r, "mfa.webauthn.delete", session.ReasonPasskeyRemoved, func(_ *mfa.Service, wa *mfa.WebAuthn) (map[string]any, error) {
		return map[string]any{"credential": id}, wa.DeleteCredential(r.Context(), extUserID(r), id)
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

// mfaStepUpOptions answers POST /mfa/webauthn/step-up/options: request
// options for re-authenticating with a passkey before POST /reauthenticate
// (method "webauthn", proof {ceremony, credential}).
func (x *ext) mfaStepUpOptions(w http.ResponseWriter, r *http.Request) error {
	if err := extEmptyBody(r); err != nil {
		return err
	}
	opts, err := x.webauthn.BeginLogin(r.Context(), mfa.CeremonyStepUp, extUserID(r), mfa.Prior{})
	if errors.Is(err, mfa.ErrNotEnrolled) {
		return web.Conflict("not_enrolled", "No passkey is registered.")
	}
	if err != nil {
		return extUnavailable(err)
	}
	return web.WriteTokenJSON(w, http.StatusOK, opts)
}
