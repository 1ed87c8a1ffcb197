package events

import "time"

// The data of each event type. Fields are identifiers and states, never a
// secret, token, password or code.

// UserData is the data of user.created, user.deleted, user.disabled and
// user.enabled.
type UserData struct {
	UserID string `json:"user_id"`
	Email  string `json:"email,omitempty"` // user.created only
	By     string `json:"by,omitempty"`    // "user", "operator" or "scim"
}

// SessionRevokedData is the data of session.revoked: one user's sessions
// ended, all of them unless SessionID is set.
type SessionRevokedData struct {
	UserID    string `json:"user_id"`
	SessionID string `json:"session_id,omitempty"`
	Reason    string `json:"reason"`
}

// MFAData is the data of mfa.changed.
type MFAData struct {
	UserID string `json:"user_id"`
	Change string `json:"change"` // totp_enabled, totp_disabled, passkey_added, reset
}

// IdentityData is the data of identity.linked and identity.unlinked.
type IdentityData struct {
	UserID   string `json:"user_id"`
	Provider string `json:"provider"`
}

// MemberData is the data of org.member.added, org.member.removed and
// org.member.role_changed.
type MemberData struct {
	OrgID        string `json:"org_id"`
	UserID       string `json:"user_id"`
	Role         string `json:"role,omitempty"`
	PreviousRole string `json:"previous_role,omitempty"` // role_changed only
	By           string `json:"by"`                      // "api", "operator", "scim" or "sso"
}

// ConnectionData is the data of connection.created, connection.invalid and
// connection.revoked.
type ConnectionData struct {
	ConnectionID string `json:"connection_id"`
	UserID       string `json:"user_id,omitempty"`
	OrgID        string `json:"org_id,omitempty"`
	Provider     string `json:"provider"`
	Reason       string `json:"reason,omitempty"`
}

// SubscriptionData is the data of billing.subscription.updated.
type SubscriptionData struct {
	OrgID          string    `json:"org_id,omitempty"`
	SubscriptionID string    `json:"subscription_id"`
	Plan           string    `json:"plan,omitempty"`
	Status         string    `json:"status"`
	PeriodEnd      time.Time `json:"period_end,omitzero"`
}

// KeyData is the data of key.rotated.
type KeyData struct {
	Purpose string `json:"purpose"` // KeyPurposeData or KeyPurposeSigning
	KeyID   string `json:"key_id"`
}

// The purposes of key.rotated: a data key of the envelope key hierarchy,
// or an access-token signing key (published in the JWKS).
const (
	KeyPurposeData    = "data"
	KeyPurposeSigning = "signing"
)

// User returns user.created, user.deleted, user.disabled or user.enabled.
func User(t Type, d UserData) Event {
	return Event{Type: t, Subject: "user/" + d.UserID, Data: d}
}

// SessionsRevoked returns session.revoked.
func SessionsRevoked(d SessionRevokedData) Event {
	return Event{Type: SessionRevoked, Subject: "user/" + d.UserID, Data: d}
}

// MFA returns mfa.changed.
func MFA(userID, change string) Event {
	return Event{Type: MFAChanged, Subject: "user/" + userID, Data: MFAData{UserID: userID, Change: change}}
}

// Identity returns identity.linked or identity.unlinked.
func Identity(t Type, userID, provider string) Event {
	return Event{Type: t, Subject: "user/" + userID, Data: IdentityData{UserID: userID, Provider: provider}}
}

// Member returns org.member.added, org.member.removed or
// org.member.role_changed.
func Member(t Type, d MemberData) Event {
	return Event{Type: t, Subject: "org/" + d.OrgID + "/member/" + d.UserID, Data: d}
}

// Connection returns connection.created, connection.invalid or
// connection.revoked.
func Connection(t Type, d ConnectionData) Event {
	return Event{Type: t, Subject: "connection/" + d.ConnectionID, Data: d}
}

// Subscription returns billing.subscription.updated.
func Subscription(d SubscriptionData) Event {
	return Event{Type: BillingSubscriptionUpdated, Subject: "subscription/" + d.SubscriptionID, Data: d}
}

// Key returns key.rotated.
func Key(purpose, keyID string) Event {
	return Event{Type: KeyRotated, Subject: "key/" + purpose + "/" + keyID, Data: KeyData{Purpose: purpose, KeyID: keyID}}
}
