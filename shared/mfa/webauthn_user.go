package mfa

import (
	"bytes"
	"context"
	"fmt"
	"io"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/gatehouse-dev/gatehouse/shared/store"
)

// handleSize is the length of a WebAuthn user handle: random, so it says
// nothing about the user (the specification's advice).
const handleSize = 32

// waUser is a Gatehouse user as go-webauthn sees it.
type waUser struct {
	id     string
	handle []byte
	name   string
	creds  []webauthn.Credential
	rows   []store.WebAuthnCredential
}

func (u *waUser) WebAuthnID() []byte                         { return u.handle }
func (u *waUser) WebAuthnName() string                       { return u.name }
func (u *waUser) WebAuthnDisplayName() string                { return u.name }
func (u *waUser) WebAuthnCredentials() []webauthn.Credential { return u.creds }

// stored returns the stored row of the credential with this authenticator id.
func (u *waUser) stored(credentialID []byte) (store.WebAuthnCredential, bool) {
	for _, r := range u.rows {
		if bytes.Equal(r.CredentialID, credentialID) {
			return r, true
		}
	}
	return store.WebAuthnCredential{}, false
}

// user loads userID's handle (creating it on first use) and credentials.
// name is the account label for registration ("" elsewhere).
func (w *WebAuthn) user(ctx context.Context, userID, name string) (*waUser, error) {
	fresh := make([]byte, handleSize)
	if _, err := io.ReadFull(w.rand, fresh); err != nil {
		return nil, fmt.Errorf("generate webauthn user handle: %w", err)
	}
	handle, err := w.store.WebAuthnHandle(ctx, userID, fresh, w.now())
	if err != nil {
		return nil, err
	}
	rows, err := w.store.WebAuthnCredentials(ctx, userID)
	if err != nil {
		return nil, err
	}
	if name == "" {
		name = userID
	}
	u := &waUser{id: userID, handle: handle, name: name, rows: rows}
	for _, r := range rows {
		u.creds = append(u.creds, libCredential(r))
	}
	return u, nil
}

// libCredential converts a stored credential to go-webauthn's form.
func libCredential(r store.WebAuthnCredential) webauthn.Credential {
	flags := protocol.FlagUserPresent
	if r.UserVerified {
		flags |= protocol.FlagUserVerified
	}
	if r.BackupEligible {
		flags |= protocol.FlagBackupEligible
	}
	if r.BackupState {
		flags |= protocol.FlagBackupState
	}
	c := webauthn.Credential{ID: r.CredentialID, PublicKey: r.PublicKey, Flags: webauthn.NewCredentialFlags(flags),
		Authenticator: webauthn.Authenticator{AAGUID: r.AAGUID, SignCount: r.SignCount, CloneWarning: r.CloneWarning}}
	for _, t := range r.Transports {
		c.Transport = append(c.Transport, protocol.AuthenticatorTransport(t))
	}
	return c
}
