package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/store"
)

const userColumns = `id, email, name, password_hash, email_verified_at, created_at, updated_at, disabled_at`

func scanUser(r Row) (store.User, error) {
	var u store.User
	var verified, disabled *time.Time
	if err := r.Scan(&u.ID, &u.Email, &u.Name, &u.PasswordHash, &verified, &u.CreatedAt, &u.UpdatedAt, &disabled); err != nil {
		return u, err
	}
	if verified != nil {
		u.EmailVerifiedAt = *verified
	}
	if disabled != nil {
		u.DisabledAt = *disabled
	}
	return u, nil
}

// timeOrNull returns nil for the zero time, so it is stored as NULL.
func timeOrNull(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// CreateUser implements [store.Users].
func (db *DB) CreateUser(ctx context.Context, u store.User) error {
	_, err := db.conn.Exec(ctx, `INSERT INTO users (`+userColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		u.ID, u.Email, u.Name, u.PasswordHash, timeOrNull(u.EmailVerifiedAt), u.CreatedAt, u.UpdatedAt,
		timeOrNull(u.DisabledAt))
	if err != nil {
		return fmt.Errorf("insert user %s: %w", u.ID, err)
	}
	return nil
}

// User implements [store.Users].
func (db *DB) User(ctx context.Context, id string) (store.User, error) {
	u, err := scanUser(db.conn.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1`, id))
	if err != nil {
		return u, fmt.Errorf("read user %s: %w", id, err)
	}
	return u, nil
}

// Profile implements [store.Users]: one statement, one round trip.
func (db *DB) Profile(ctx context.Context, userID, sessionID string) (store.Profile, error) {
	var p store.Profile
	var verified, revoked *time.Time
	var methods string
	var webauthn, recovery int64
	u, s := &p.User, &p.Session
	err := db.conn.QueryRow(ctx, `SELECT u.id, u.email, u.name, u.password_hash, u.email_verified_at, u.created_at,
		u.updated_at, s.id, s.user_id, s.created_at, s.last_seen_at, s.idle_expires_at, s.absolute_expires_at,
		s.network, s.user_agent, s.device_id, s.auth_methods, s.auth_level, s.auth_time, s.revoked_at,
		s.revoke_reason, s.refresh_key,
		EXISTS (SELECT 1 FROM totp_secrets WHERE user_id = u.id AND confirmed_at IS NOT NULL),
		(SELECT count(*) FROM webauthn_credentials WHERE user_id = u.id),
		(SELECT count(*) FROM recovery_codes WHERE user_id = u.id AND used_at IS NULL)
		FROM users u JOIN sessions s ON s.user_id = u.id WHERE u.id = $1 AND s.id = $2`, userID, sessionID).Scan(
		&u.ID, &u.Email, &u.Name, &u.PasswordHash, &verified, &u.CreatedAt, &u.UpdatedAt,
		&s.ID, &s.UserID, &s.CreatedAt, &s.LastSeenAt, &s.IdleExpiresAt, &s.AbsoluteExpiresAt,
		&s.Network, &s.UserAgent, &s.DeviceID, &methods, &s.AuthLevel, &s.AuthTime, &revoked,
		&s.RevokeReason, &s.RefreshKey, &p.MFA.TOTPConfirmed, &webauthn, &recovery)
	if err != nil {
		return p, fmt.Errorf("read profile of %s: %w", userID, err)
	}
	if verified != nil {
		u.EmailVerifiedAt = *verified
	}
	if revoked != nil {
		s.RevokedAt = *revoked
	}
	if methods != "" {
		s.AuthMethods = strings.Split(methods, " ")
	}
	p.MFA.WebAuthnCredentials, p.MFA.RecoveryCodesLeft = int(webauthn), int(recovery)
	return p, nil
}

// UserByEmail implements [store.Users].
func (db *DB) UserByEmail(ctx context.Context, email string) (store.User, error) {
	u, err := scanUser(db.conn.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE email = $1`, email))
	if err != nil {
		return u, fmt.Errorf("read user by email: %w", err)
	}
	return u, nil
}

// SearchUsers implements [store.Users]. The prefix is matched as a range
// of the email index (email >= prefix AND email < the prefix's successor),
// so no LIKE pattern is built from operator input.
func (db *DB) SearchUsers(ctx context.Context, emailPrefix, after string, limit int) ([]store.User, error) {
	limit = min(max(limit, 1), store.MaxUserPage)
	from := max(emailPrefix, after)
	var rows Rows
	var err error
	if end, ok := prefixEnd(emailPrefix); ok {
		rows, err = db.conn.Query(ctx, `SELECT `+userColumns+` FROM users
			WHERE email >= $1 AND email > $2 AND email < $3 ORDER BY email LIMIT $4`, from, after, end, limit)
	} else {
		rows, err = db.conn.Query(ctx, `SELECT `+userColumns+` FROM users
			WHERE email >= $1 AND email > $2 ORDER BY email LIMIT $3`, from, after, limit)
	}
	users, err := collect(rows, err, func(r Rows) (store.User, error) { return scanUser(r) })
	if err != nil {
		return nil, fmt.Errorf("search users: %w", err)
	}
	return users, nil
}

// prefixEnd returns the least string greater than every string starting
// with prefix, false if there is none ("" or all 0xff bytes).
func prefixEnd(prefix string) (string, bool) {
	b := []byte(prefix)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return string(b[:i+1]), true
		}
	}
	return "", false
}

// SetUserDisabled implements [store.Users]. It announces the user, so
// every process's session cache drops the user's sessions when the caller
// revokes them in the same transaction.
func (db *DB) SetUserDisabled(ctx context.Context, id string, at time.Time) (store.User, error) {
	var u store.User
	err := db.changeSessions(ctx, func(c Conn) ([]store.SessionChange, error) {
		var err error
		if at.IsZero() {
			_, err = c.Exec(ctx, `UPDATE users SET disabled_at = NULL WHERE id = $1`, id)
		} else {
			_, err = c.Exec(ctx, `UPDATE users SET disabled_at = COALESCE(disabled_at, $2) WHERE id = $1`, id, at)
		}
		if err != nil {
			return nil, fmt.Errorf("set disabled of user %s: %w", id, err)
		}
		if u, err = scanUser(c.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1`, id)); err != nil {
			return nil, fmt.Errorf("set disabled of user %s: %w", id, err)
		}
		return []store.SessionChange{{UserID: id}}, nil
	})
	return u, err
}

// SetPasswordHash implements [store.Users].
func (db *DB) SetPasswordHash(ctx context.Context, id, hash string, now time.Time) error {
	n, err := db.conn.Exec(ctx, `UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1`, id, hash, now)
	if err != nil {
		return fmt.Errorf("set password of user %s: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("set password of user %s: %w", id, store.ErrNotFound)
	}
	return nil
}

// DeleteUser implements [store.Users].
func (db *DB) DeleteUser(ctx context.Context, id string) error {
	return db.changeSessions(ctx, func(c Conn) ([]store.SessionChange, error) {
		var email string
		if err := c.QueryRow(ctx, `SELECT email FROM users WHERE id = $1`+db.dialect.ForUpdate, id).Scan(&email); err != nil {
			return nil, fmt.Errorf("delete user %s: %w", id, err)
		}
		if _, err := c.Exec(ctx, `DELETE FROM one_time_tokens WHERE subject = $1 OR subject = $2`, id, email); err != nil {
			return nil, fmt.Errorf("delete tokens of user %s: %w", id, err)
		}
		// Sessions, refresh tokens and known devices go by cascade.
		if _, err := c.Exec(ctx, `DELETE FROM users WHERE id = $1`, id); err != nil {
			return nil, fmt.Errorf("delete user %s: %w", id, err)
		}
		return []store.SessionChange{{UserID: id}}, nil
	})
}

// ActorAuditEvents implements [store.Users].
func (db *DB) ActorAuditEvents(ctx context.Context, actor string, after int64, limit int) ([]store.AuditEvent, error) {
	rows, err := db.conn.Query(ctx, `SELECT `+auditColumns+auditIntegrated+`
		WHERE e.actor = $1 AND l.seq > $2 ORDER BY l.seq LIMIT $3`, actor, after, limit)
	return collect(rows, err, func(r Rows) (store.AuditEvent, error) { return scanAuditEvent(r) })
}

// UserAuditEvents implements [store.Users].
func (db *DB) UserAuditEvents(ctx context.Context, userID string, after int64, limit int) ([]store.AuditEvent, error) {
	rows, err := db.conn.Query(ctx, `SELECT `+auditColumns+auditIntegrated+`
		WHERE (e.actor = $1 OR e.target = $1 OR e.target = $2) AND l.seq > $3 ORDER BY l.seq LIMIT $4`,
		userID, "user:"+userID, after, limit)
	return collect(rows, err, func(r Rows) (store.AuditEvent, error) { return scanAuditEvent(r) })
}

const deviceColumns = `user_id, device_id, network, first_seen_at, last_seen_at`

// SeenDevice implements [store.Users].
func (db *DB) SeenDevice(ctx context.Context, userID, deviceID, network string, since time.Time) error {
	var n int64
	err := db.conn.QueryRow(ctx, `SELECT count(*) FROM known_devices
		WHERE user_id = $1 AND device_id = $2 AND network = $3 AND last_seen_at >= $4`,
		userID, deviceID, network, since).Scan(&n)
	if err != nil {
		return fmt.Errorf("look up device of user %s: %w", userID, err)
	}
	if n == 0 {
		return store.ErrNotFound
	}
	return nil
}

// KnownDevice implements [store.Users].
func (db *DB) KnownDevice(ctx context.Context, userID, deviceID string) error {
	var n int64
	err := db.conn.QueryRow(ctx, `SELECT count(*) FROM known_devices WHERE user_id = $1 AND device_id = $2`,
		userID, deviceID).Scan(&n)
	if err != nil {
		return fmt.Errorf("look up device of user %s: %w", userID, err)
	}
	if n == 0 {
		return store.ErrNotFound
	}
	return nil
}

// RecordDevice implements [store.Users].
func (db *DB) RecordDevice(ctx context.Context, d store.KnownDevice) error {
	_, err := db.conn.Exec(ctx, `INSERT INTO known_devices (`+deviceColumns+`) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (user_id, device_id, network) DO UPDATE SET last_seen_at = excluded.last_seen_at`,
		d.UserID, d.DeviceID, d.Network, d.FirstSeenAt, d.LastSeenAt)
	if err != nil {
		return fmt.Errorf("record device of user %s: %w", d.UserID, err)
	}
	return nil
}

// UserDevices implements [store.Users].
func (db *DB) UserDevices(ctx context.Context, userID string) ([]store.KnownDevice, error) {
	rows, err := db.conn.Query(ctx, `SELECT `+deviceColumns+` FROM known_devices
		WHERE user_id = $1 ORDER BY last_seen_at DESC, device_id, network`, userID)
	return collect(rows, err, func(r Rows) (store.KnownDevice, error) {
		var d store.KnownDevice
		err := r.Scan(&d.UserID, &d.DeviceID, &d.Network, &d.FirstSeenAt, &d.LastSeenAt)
		return d, err
	})
}

// UserHasDevices implements [store.Users].
func (db *DB) UserHasDevices(ctx context.Context, userID string) (bool, error) {
	var n int64
	if err := db.conn.QueryRow(ctx, `SELECT count(*) FROM known_devices WHERE user_id = $1`, userID).Scan(&n); err != nil {
		return false, fmt.Errorf("count devices of user %s: %w", userID, err)
	}
	return n > 0, nil
}
