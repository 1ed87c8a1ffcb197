package broker

import (
	"context"
	"fmt"
	"time"

	"golang.org/x/oauth2"

	"github.com/gatehouse-dev/gatehouse/shared/envelope"
	"github.com/gatehouse-dev/gatehouse/shared/store"
)

// Sealer is the part of [envelope.Keyring] the broker uses.
type Sealer interface {
	Seal(ctx context.Context, p envelope.Purpose, b envelope.Binding, plaintext []byte) ([]byte, error)
	Open(ctx context.Context, p envelope.Purpose, b envelope.Binding, ciphertext []byte) ([]byte, error)
}

// Token columns of the connections table, as sealed-value bindings name them.
const (
	FieldAccessToken  = "connections.access_token"
	FieldRefreshToken = "connections.refresh_token"
)

// Binding is the envelope binding of a connection's token column (CRED-1):
// a ciphertext moved to another organization, connection or column does
// not open.
func Binding(orgID, connID, field string) envelope.Binding {
	return envelope.Binding{Org: orgID, Record: connID, Field: field}
}

// SealTokens seals tok's access token and, if it has one, refresh token
// for connection connID of orgID, with the credential purpose. The result
// has a nil RefreshToken when tok has none, which keeps the stored one.
// ExpiresAt comes from the response's expires_in measured on now.
func SealTokens(ctx context.Context, s Sealer, orgID, connID string, tok *oauth2.Token, now time.Time) (store.ConnectionTokens, error) {
	var t store.ConnectionTokens
	var err error
	t.AccessToken, err = s.Seal(ctx, envelope.PurposeCredential, Binding(orgID, connID, FieldAccessToken), []byte(tok.AccessToken))
	if err != nil {
		return t, fmt.Errorf("seal access token of %s: %w", connID, err)
	}
	if tok.RefreshToken != "" {
		t.RefreshToken, err = s.Seal(ctx, envelope.PurposeCredential, Binding(orgID, connID, FieldRefreshToken), []byte(tok.RefreshToken))
		if err != nil {
			return t, fmt.Errorf("seal refresh token of %s: %w", connID, err)
		}
	}
	t.TokenType = tok.Type()
	t.ExpiresAt = ExpiresAt(tok, now)
	return t, nil
}

// ExpiresAt returns when tok expires: now plus the response's expires_in
// (measured on the caller's clock), else tok.Expiry, else zero (unknown:
// the token is used until the platform refuses it).
func ExpiresAt(tok *oauth2.Token, now time.Time) time.Time {
	var secs float64
	switch v := tok.Extra("expires_in").(type) {
	case float64:
		secs = v
	case int64:
		secs = float64(v)
	}
	if secs > 0 {
		return now.Add(time.Duration(secs) * time.Second)
	}
	return tok.Expiry
}

// openToken opens one sealed token column of c.
func openToken(ctx context.Context, s Sealer, c store.Connection, field string, ct []byte) (string, error) {
	pt, err := s.Open(ctx, envelope.PurposeCredential, Binding(c.OrgID, c.ID, field), ct)
	if err != nil {
		return "", fmt.Errorf("open %s of %s: %w", field, c.ID, err)
	}
	return string(pt), nil
}
