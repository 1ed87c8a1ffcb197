package store

import (
	"context"
	"time"
)

// User is an account. Email is stored normalized (see the auth function);
// PasswordHash is a PHC string, empty for an account without a password.
// The id is opaque and is what every other record (sessions, audit actors,
// memberships) refers to, so deleting the row pseudonymizes them.
type User struct {
	ID              string
	Email           string
	Name            string
	PasswordHash    string
	EmailVerifiedAt time.Time
	CreatedAt       time.Time
	UpdatedAt       time.Time
	DisabledAt      time.Time // zero while enabled; a disabled user cannot start a session
}

// MaxUserPage is the most users [Users.SearchUsers] returns at once.
const MaxUserPage = 200

// KnownDevice is one (device, network) pair a user signed in from.
type KnownDevice struct {
	UserID      string
	DeviceID    string // random id from the device cookie
	Network     string // client network prefix, e.g. "203.0.113.0/24"
	FirstSeenAt time.Time
	LastSeenAt  time.Time
}

// Lockout is the failure count of one account key (a hash of the normalized
// email address, so unknown addresses are treated exactly like known ones).
type Lockout struct {
	Key           string
	Failures      int
	LastFailureAt time.Time
	LockedUntil   time.Time // zero when not locked
}

// MFAState is what a user has of each second factor.
type MFAState struct {
	TOTPConfirmed       bool // a confirmed TOTP secret
	WebAuthnCredentials int
	RecoveryCodesLeft   int // unused
}

// Profile is a signed-in user as GET /me shows it: the user, the caller's
// session and the user's second factors.
type Profile struct {
	User    User
	Session Session
	MFA     MFAState
}

// Users stores accounts, their known devices and their lockout state.
type Users interface {
	// Profile returns the user, its session sessionID (every field) and
	// its MFA state, in one read. ErrNotFound if either is missing or the
	// session is another user's.
	Profile(ctx context.Context, userID, sessionID string) (Profile, error)
	// CreateUser inserts u. Returns ErrConflict if the id or email exists.
	CreateUser(ctx context.Context, u User) error
	// User returns the user with this id, or ErrNotFound.
	User(ctx context.Context, id string) (User, error)
	// UserByEmail returns the user with this normalized email, or ErrNotFound.
	UserByEmail(ctx context.Context, email string) (User, error)
	// SearchUsers returns up to limit users (at most [MaxUserPage]) whose
	// email starts with emailPrefix ("" for every user) and whose email
	// sorts after after, in email order: pass the last email of a page as
	// after to read the next.
	SearchUsers(ctx context.Context, emailPrefix, after string, limit int) ([]User, error)
	// SetUserDisabled disables the user at at, or enables it when at is
	// zero, and returns the user as it now is. Disabling a disabled user
	// keeps its first time. It locks the user's row, so a session being
	// created concurrently either commits before (and is then revoked by
	// the caller in the same transaction) or sees the user disabled.
	// Returns ErrNotFound.
	SetUserDisabled(ctx context.Context, id string, at time.Time) (User, error)
	// SetPasswordHash replaces the user's password hash. Returns ErrNotFound.
	SetPasswordHash(ctx context.Context, id, hash string, now time.Time) error
	// DeleteUser deletes the user row and, by cascade, its sessions, refresh
	// tokens and known devices, plus its one-time tokens (subject id or
	// email). Audit events keep the id, which then names no one.
	// Returns ErrNotFound.
	DeleteUser(ctx context.Context, id string) error
	// ActorAuditEvents returns up to limit integrated audit events whose
	// actor is actor, with Seq > after, oldest first.
	ActorAuditEvents(ctx context.Context, actor string, after int64, limit int) ([]AuditEvent, error)
	// UserAuditEvents returns up to limit integrated audit events about userID, with
	// Seq > after, oldest first: those it performed (actor) and those that
	// name it as their target (userID or "user:"+userID).
	UserAuditEvents(ctx context.Context, userID string, after int64, limit int) ([]AuditEvent, error)

	// SeenDevice reports whether the user signed in from this device and
	// network at or after since: nil if so, ErrNotFound if not.
	SeenDevice(ctx context.Context, userID, deviceID, network string, since time.Time) error
	// KnownDevice returns nil if the user ever signed in from this device
	// (any network), else ErrNotFound.
	KnownDevice(ctx context.Context, userID, deviceID string) error
	// RecordDevice inserts the pair or moves its LastSeenAt to d.LastSeenAt.
	RecordDevice(ctx context.Context, d KnownDevice) error
	// UserDevices lists the user's known pairs, most recent first.
	UserDevices(ctx context.Context, userID string) ([]KnownDevice, error)
	// UserHasDevices reports whether any pair is known for the user.
	UserHasDevices(ctx context.Context, userID string) (bool, error)

	// AddLoginFailure counts one failure for key at now, in one atomic
	// statement: a count whose last failure is older than now-window starts
	// again at 1. It returns the updated state.
	AddLoginFailure(ctx context.Context, key string, now time.Time, window time.Duration) (Lockout, error)
	// LockAccount sets the key's LockedUntil. Returns ErrNotFound.
	LockAccount(ctx context.Context, key string, until time.Time) error
	// Lockout returns the key's state, or a zero Lockout (with Key set)
	// when it has none.
	Lockout(ctx context.Context, key string) (Lockout, error)
	// ClearLockout removes the key's state.
	ClearLockout(ctx context.Context, key string) error
	// PurgeLockouts deletes state whose last failure is before before and
	// that is not locked at before.
	PurgeLockouts(ctx context.Context, before time.Time) (int64, error)
}
