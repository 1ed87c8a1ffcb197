package store

import (
	"context"
	"time"
)

// Session is one signed-in client. Access tokens carry its id and are
// checked against this row (or a cache of it that the store's
// [SessionFeed] keeps current) on every request, so revoking it takes
// effect at once.
type Session struct {
	ID                string
	UserID            string
	CreatedAt         time.Time
	LastSeenAt        time.Time     // last refresh
	LongestIdle       time.Duration // longest recorded gap between refreshes (RecordSessionIdle)
	IdleExpiresAt     time.Time     // moved forward on every refresh
	AbsoluteExpiresAt time.Time     // never moves
	Network           string        // client network prefix at sign-in
	UserAgent         string
	DeviceID          string
	AuthMethods       []string  // RFC 8176 amr values of the last (re)authentication
	AuthLevel         int       // 1 single factor, 2 multi-factor
	AuthTime          time.Time // when the user last proved who they are (step-up)
	RevokedAt         time.Time // zero while valid
	RevokeReason      string
	// SSOOrgID is the organization whose single sign-on (OIDC or SAML)
	// started the session: "" for every other sign-in (password, magic
	// link, passkey, Google, GitHub), [SSOOrgUnknown] for one an
	// organization's SSO started before sessions recorded which. Refreshes
	// and step-ups keep it.
	SSOOrgID string
	// RefreshKey is the session's sealed token-derivation key (envelope
	// purpose signing-key, binding {"", ID, "sessions.refresh_key"}).
	RefreshKey []byte
}

// SSOOrgUnknown is the SSOOrgID of a session an organization's single
// sign-on started before sessions recorded the organization (migration
// 0077 found the amr value "sso" on it): every organization treats it as
// possibly its own when it deprovisions a member, and none counts it as
// its own single sign-on.
const SSOOrgUnknown = "*"

// Active reports whether s is usable at now: not revoked, not idle or
// absolutely expired.
func (s Session) Active(now time.Time) bool {
	return s.RevokedAt.IsZero() && now.Before(s.IdleExpiresAt) && now.Before(s.AbsoluteExpiresAt)
}

// RefreshToken is one issued refresh token of a session, stored by its
// SHA-256 only. A token is current until RotatedAt is set.
type RefreshToken struct {
	Hash      [32]byte
	SessionID string
	IssuedAt  time.Time
	RotatedAt time.Time // zero while current
	GraceUsed bool      // presented once more after rotation
}

// Sessions stores sessions and their refresh tokens.
type Sessions interface {
	// CreateSession inserts s and its first refresh token. Returns
	// ErrConflict if the id or hash exists, ErrDisabled if the user is
	// disabled (read under a share lock of the user's row, so it cannot
	// race [Users.SetUserDisabled]), ErrNotFound if there is no such user.
	CreateSession(ctx context.Context, s Session, first RefreshToken) error
	// Session returns the session with this id (revoked and expired ones
	// too), or ErrNotFound.
	Session(ctx context.Context, id string) (Session, error)
	// SessionCheck returns what checking a request against the session
	// needs, and only that: ID, UserID, CreatedAt, LastSeenAt, LongestIdle,
	// IdleExpiresAt, AbsoluteExpiresAt, AuthMethods, AuthLevel, AuthTime and
	// RevokedAt (the other fields are
	// zero). It is the per-request read, kept narrow. ErrNotFound if absent.
	SessionCheck(ctx context.Context, id string) (Session, error)
	// UserSessionHistory returns every session row of the user still
	// stored (revoked and expired ones too, until purged), newest first.
	UserSessionHistory(ctx context.Context, userID string) ([]Session, error)
	// UserSessions returns the user's sessions active at now, newest first.
	UserSessions(ctx context.Context, userID string, now time.Time) ([]Session, error)
	// RevokeSession marks the session revoked at now. Revoking a revoked
	// session is a no-op. Returns ErrNotFound.
	RevokeSession(ctx context.Context, id string, now time.Time, reason string) error
	// RevokeUserSessions revokes every unrevoked session of the user and
	// returns how many it revoked.
	RevokeUserSessions(ctx context.Context, userID string, now time.Time, reason string) (int64, error)
	// RevokeSSOSessions revokes every unrevoked session of the user that
	// orgID's single sign-on started (SSOOrgID orgID, or [SSOOrgUnknown])
	// and returns how many; the user's other sessions stay.
	RevokeSSOSessions(ctx context.Context, userID, orgID string, now time.Time, reason string) (int64, error)
	// RevokeOrgSSOSessions revokes every unrevoked session that orgID's
	// single sign-on started, whoever holds it, and the unattributed ones
	// ([SSOOrgUnknown]) of orgID's current members, for an organization
	// that is about to be deleted. It returns the users whose sessions
	// ended, sorted, each once.
	RevokeOrgSSOSessions(ctx context.Context, orgID string, now time.Time, reason string) ([]string, error)
	// SetSessionAuth records a fresh authentication (step-up). Returns
	// ErrNotFound for an unknown or revoked session.
	SetSessionAuth(ctx context.Context, id string, methods []string, level int, at time.Time) error
	// RecordSessionIdle raises the session's LongestIdle to gap if it is
	// longer (never lowers it). Returns ErrNotFound for an unknown or
	// revoked session.
	RecordSessionIdle(ctx context.Context, id string, gap time.Duration) error

	// RefreshToken returns the token with this hash, locking it for the
	// rest of the transaction. Returns ErrNotFound.
	RefreshToken(ctx context.Context, hash [32]byte) (RefreshToken, error)
	// RefreshTokenSession returns the token with this hash and its
	// session (every field), in one read that locks nothing: the first
	// step of a refresh. Returns ErrNotFound.
	RefreshTokenSession(ctx context.Context, hash [32]byte) (RefreshToken, Session, error)
	// RotateRefreshToken marks old rotated at next.IssuedAt, inserts next,
	// and moves the session's LastSeenAt to next.IssuedAt and its
	// IdleExpiresAt to idleUntil, atomically (one statement on
	// PostgreSQL). Of concurrent calls for one old hash exactly one
	// succeeds; the others get ErrUsed, as does a call whose old token's
	// session is revoked (then nothing changes).
	RotateRefreshToken(ctx context.Context, old [32]byte, next RefreshToken, idleUntil time.Time) error
	// UseRefreshGrace marks a rotated token presented once more. It
	// succeeds once, and only if the token was rotated at or after since;
	// otherwise ErrUsed.
	UseRefreshGrace(ctx context.Context, hash [32]byte, since time.Time) error
	// PurgeSessions deletes sessions (and their refresh tokens) that
	// expired or were revoked before before.
	PurgeSessions(ctx context.Context, before time.Time) (int64, error)
}

// SigningKey is an Ed25519 token-signing key. PrivateKey is sealed
// (envelope purpose signing-key, binding {"", ID, "signing_keys.private_key"}).
type SigningKey struct {
	ID         string
	PublicKey  []byte // 32 bytes
	PrivateKey []byte // sealed seed
	CreatedAt  time.Time
	ActiveAt   time.Time // signs from then on; published from CreatedAt
}

// SigningKeys stores token-signing keys.
type SigningKeys interface {
	// CreateSigningKey inserts k. Returns ErrConflict if the id exists.
	CreateSigningKey(ctx context.Context, k SigningKey) error
	// SigningKeys returns every key, oldest ActiveAt first.
	SigningKeys(ctx context.Context) ([]SigningKey, error)
	// DeleteSigningKey deletes the key. Returns ErrNotFound.
	DeleteSigningKey(ctx context.Context, id string) error
}

// SessionChange names sessions whose stored state changed so that a copy
// held in memory must be dropped: one session (SessionID), every session
// of a user (UserID), or, with both empty, every session.
type SessionChange struct {
	SessionID string
	UserID    string
}

// SessionObserver learns of session changes from a [SessionFeed]. Its
// methods are called from one goroutine at a time and must not block.
type SessionObserver interface {
	// SessionsChanged reports a committed change: drop what c names.
	SessionsChanged(c SessionChange)
	// ChannelLive reports that every change committed before the call
	// has been reported, and that the feed vouches for no change being
	// missed until until (it calls again before then while it is healthy).
	ChannelLive(until time.Time)
	// ChannelDown reports that changes may have been missed: trust
	// nothing learned so far, and nothing until the next ChannelLive.
	ChannelDown()
}

// SessionFeed is implemented by stores that announce session changes to
// every process using the same database: each Sessions, Users or Rotation
// method that revokes, ends or re-authenticates sessions or deletes a
// user announces it in the transaction of its write, delivered at commit.
type SessionFeed interface {
	// WatchSessions starts reporting to o until stop is called or the
	// store is closed; o first hears ChannelDown or ChannelLive.
	WatchSessions(o SessionObserver) (stop func())
}
