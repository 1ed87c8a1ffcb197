package sqlstore

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/envelope"
	"github.com/gatehouse-dev/gatehouse/shared/store"
)

const sessionColumns = `id, user_id, created_at, last_seen_at, idle_expires_at, absolute_expires_at,
	network, user_agent, device_id, auth_methods, auth_level, auth_time, revoked_at, revoke_reason, refresh_key, longest_idle_seconds, sso_org_id`

func scanSession(r Row) (store.Session, error) {
	var s store.Session
	var methods string
	var revoked *time.Time
	var idle int64
	err := r.Scan(&s.ID, &s.UserID, &s.CreatedAt, &s.LastSeenAt, &s.IdleExpiresAt, &s.AbsoluteExpiresAt,
		&s.Network, &s.UserAgent, &s.DeviceID, &methods, &s.AuthLevel, &s.AuthTime, &revoked, &s.RevokeReason, &s.RefreshKey, &idle, &s.SSOOrgID)
	if err != nil {
		return s, err
	}
	s.LongestIdle = time.Duration(idle) * time.Second
	if methods != "" {
		s.AuthMethods = strings.Split(methods, " ")
	}
	if revoked != nil {
		s.RevokedAt = *revoked
	}
	return s, nil
}

// SessionCheck implements [store.Sessions].
func (db *DB) SessionCheck(ctx context.Context, id string) (store.Session, error) {
	s := store.Session{ID: id}
	var methods string
	var revoked *time.Time
	var idle int64
	err := db.conn.QueryRow(ctx, `SELECT user_id, created_at, idle_expires_at, absolute_expires_at, auth_methods, auth_level,
		auth_time, revoked_at, last_seen_at, longest_idle_seconds FROM sessions WHERE id = $1`, id).Scan(&s.UserID, &s.CreatedAt,
		&s.IdleExpiresAt, &s.AbsoluteExpiresAt, &methods, &s.AuthLevel, &s.AuthTime, &revoked, &s.LastSeenAt, &idle)
	if err != nil {
		return store.Session{}, fmt.Errorf("read session: %w", err)
	}
	s.LongestIdle = time.Duration(idle) * time.Second
	if methods != "" {
		s.AuthMethods = strings.Split(methods, " ")
	}
	if revoked != nil {
		s.RevokedAt = *revoked
	}
	return s, nil
}

// CreateSession implements [store.Sessions].
func (db *DB) CreateSession(ctx context.Context, s store.Session, first store.RefreshToken) error {
	keyID, err := envelope.KeyID(s.RefreshKey)
	if err != nil {
		return fmt.Errorf("insert session %s: refresh key: %w", s.ID, err)
	}
	return db.tx(ctx, func(c Conn) error {
		if err := db.checkEnabled(ctx, c, s.UserID); err != nil {
			return fmt.Errorf("insert session %s: %w", s.ID, err)
		}
		_, err := c.Exec(ctx, `INSERT INTO sessions (`+sessionColumns+`, refresh_key_key_id)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)`,
			s.ID, s.UserID, s.CreatedAt, s.LastSeenAt, s.IdleExpiresAt, s.AbsoluteExpiresAt,
			s.Network, s.UserAgent, s.DeviceID, strings.Join(s.AuthMethods, " "), s.AuthLevel, s.AuthTime,
			timeOrNull(s.RevokedAt), s.RevokeReason, s.RefreshKey, int64(s.LongestIdle/time.Second), s.SSOOrgID, keyID)
		if err != nil {
			return fmt.Errorf("insert session %s: %w", s.ID, err)
		}
		first.SessionID = s.ID
		return insertRefreshToken(ctx, c, first)
	})
}

// checkEnabled returns ErrDisabled if the user is disabled, reading its
// row under a share lock: a concurrent [DB.SetUserDisabled] either commits
// first (and is seen) or waits for this transaction, whose session it then
// finds to revoke.
func (db *DB) checkEnabled(ctx context.Context, c Conn, userID string) error {
	var disabled *time.Time
	if err := c.QueryRow(ctx, `SELECT disabled_at FROM users WHERE id = $1`+db.dialect.ForShare, userID).Scan(&disabled); err != nil {
		return err
	}
	if disabled != nil {
		return store.ErrDisabled
	}
	return nil
}

// Session implements [store.Sessions].
func (db *DB) Session(ctx context.Context, id string) (store.Session, error) {
	s, err := scanSession(db.conn.QueryRow(ctx, `SELECT `+sessionColumns+` FROM sessions WHERE id = $1`, id))
	if err != nil {
		return s, fmt.Errorf("read session: %w", err)
	}
	return s, nil
}

// UserSessions implements [store.Sessions].
func (db *DB) UserSessions(ctx context.Context, userID string, now time.Time) ([]store.Session, error) {
	rows, err := db.conn.Query(ctx, `SELECT `+sessionColumns+` FROM sessions
		WHERE user_id = $1 AND revoked_at IS NULL AND idle_expires_at > $2 AND absolute_expires_at > $2
		ORDER BY created_at DESC, id`, userID, now)
	return collect(rows, err, func(r Rows) (store.Session, error) { return scanSession(r) })
}

// UserSessionHistory implements [store.Sessions].
func (db *DB) UserSessionHistory(ctx context.Context, userID string) ([]store.Session, error) {
	rows, err := db.conn.Query(ctx, `SELECT `+sessionColumns+` FROM sessions
		WHERE user_id = $1 ORDER BY created_at DESC, id`, userID)
	return collect(rows, err, func(r Rows) (store.Session, error) { return scanSession(r) })
}

// RevokeSession implements [store.Sessions].
func (db *DB) RevokeSession(ctx context.Context, id string, now time.Time, reason string) error {
	return db.changeSessions(ctx, func(c Conn) ([]store.SessionChange, error) {
		n, err := c.Exec(ctx, `UPDATE sessions
			SET revoked_at = CASE WHEN revoked_at IS NULL THEN $2 ELSE revoked_at END,
			    revoke_reason = CASE WHEN revoked_at IS NULL THEN $3 ELSE revoke_reason END
			WHERE id = $1`, id, now, reason)
		if err != nil {
			return nil, fmt.Errorf("revoke session: %w", err)
		}
		if n == 0 {
			return nil, fmt.Errorf("revoke session: %w", store.ErrNotFound)
		}
		return []store.SessionChange{{SessionID: id}}, nil
	})
}

// RevokeUserSessions implements [store.Sessions].
func (db *DB) RevokeUserSessions(ctx context.Context, userID string, now time.Time, reason string) (int64, error) {
	var n int64
	err := db.changeSessions(ctx, func(c Conn) ([]store.SessionChange, error) {
		var err error
		n, err = c.Exec(ctx, `UPDATE sessions SET revoked_at = $2, revoke_reason = $3
			WHERE user_id = $1 AND revoked_at IS NULL`, userID, now, reason)
		if err != nil {
			return nil, fmt.Errorf("revoke sessions of user %s: %w", userID, err)
		}
		return []store.SessionChange{{UserID: userID}}, nil
	})
	return n, err
}

// RevokeSSOSessions implements [store.Sessions].
func (db *DB) RevokeSSOSessions(ctx context.Context, userID, orgID string, now time.Time, reason string) (int64, error) {
	var n int64
	err := db.changeSessions(ctx, func(c Conn) ([]store.SessionChange, error) {
		var err error
		n, err = c.Exec(ctx, `UPDATE sessions SET revoked_at = $3, revoke_reason = $4
			WHERE user_id = $1 AND sso_org_id IN ($2, $5) AND revoked_at IS NULL`, userID, orgID, now, reason, store.SSOOrgUnknown)
		if err != nil {
			return nil, fmt.Errorf("revoke %s single sign-on sessions of user %s: %w", orgID, userID, err)
		}
		return []store.SessionChange{{UserID: userID}}, nil
	})
	return n, err
}

// RevokeOrgSSOSessions implements [store.Sessions].
func (db *DB) RevokeOrgSSOSessions(ctx context.Context, orgID string, now time.Time, reason string) ([]string, error) {
	var users []string
	err := db.changeSessions(ctx, func(c Conn) ([]store.SessionChange, error) {
		rows, err := c.Query(ctx, `UPDATE sessions SET revoked_at = $2, revoke_reason = $3
			WHERE revoked_at IS NULL AND (sso_org_id = $1
				OR sso_org_id = $4 AND user_id IN (SELECT user_id FROM org_members WHERE org_id = $1))
			RETURNING user_id`, orgID, now, reason, store.SSOOrgUnknown)
		if err != nil {
			return nil, fmt.Errorf("revoke single sign-on sessions of org %s: %w", orgID, err)
		}
		defer rows.Close()
		users = users[:0]
		for rows.Next() {
			var u string
			if err := rows.Scan(&u); err != nil {
				return nil, fmt.Errorf("revoke single sign-on sessions of org %s: %w", orgID, err)
			}
			users = append(users, u)
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("revoke single sign-on sessions of org %s: %w", orgID, err)
		}
		slices.Sort(users)
		users = slices.Compact(users)
		changes := make([]store.SessionChange, len(users))
		for i, u := range users {
			changes[i] = store.SessionChange{UserID: u}
		}
		return changes, nil
	})
	if err != nil {
		return nil, err
	}
	return users, nil
}

// SetSessionAuth implements [store.Sessions].
func (db *DB) SetSessionAuth(ctx context.Context, id string, methods []string, level int, at time.Time) error {
	return db.changeSessions(ctx, func(c Conn) ([]store.SessionChange, error) {
		n, err := c.Exec(ctx, `UPDATE sessions SET auth_methods = $2, auth_level = $3, auth_time = $4
			WHERE id = $1 AND revoked_at IS NULL`, id, strings.Join(methods, " "), level, at)
		if err != nil {
			return nil, fmt.Errorf("record authentication of session: %w", err)
		}
		if n == 0 {
			return nil, fmt.Errorf("record authentication of session: %w", store.ErrNotFound)
		}
		return []store.SessionChange{{SessionID: id}}, nil
	})
}

// RecordSessionIdle implements [store.Sessions]. Announced: a cached
// session must not keep the shorter gap.
func (db *DB) RecordSessionIdle(ctx context.Context, id string, gap time.Duration) error {
	return db.changeSessions(ctx, func(c Conn) ([]store.SessionChange, error) {
		secs := int64(gap / time.Second)
		n, err := c.Exec(ctx, `UPDATE sessions SET longest_idle_seconds = CASE WHEN longest_idle_seconds < $2 THEN $2
			ELSE longest_idle_seconds END WHERE id = $1 AND revoked_at IS NULL`, id, secs)
		if err != nil {
			return nil, fmt.Errorf("record idle gap of session: %w", err)
		}
		if n == 0 {
			return nil, fmt.Errorf("record idle gap of session: %w", store.ErrNotFound)
		}
		return []store.SessionChange{{SessionID: id}}, nil
	})
}

// PurgeSessions implements [store.Sessions].
func (db *DB) PurgeSessions(ctx context.Context, before time.Time) (int64, error) {
	n, err := db.conn.Exec(ctx, `DELETE FROM sessions
		WHERE idle_expires_at < $1 OR absolute_expires_at < $1 OR revoked_at < $1`, before)
	if err != nil {
		return 0, fmt.Errorf("purge sessions: %w", err)
	}
	return n, nil
}

const refreshColumns = `hash, session_id, issued_at, rotated_at, grace_used`

func insertRefreshToken(ctx context.Context, c Conn, t store.RefreshToken) error {
	_, err := c.Exec(ctx, `INSERT INTO refresh_tokens (`+refreshColumns+`) VALUES ($1, $2, $3, NULL, false)`,
		t.Hash[:], t.SessionID, t.IssuedAt)
	if err != nil {
		return fmt.Errorf("insert refresh token: %w", err)
	}
	return nil
}

// RefreshToken implements [store.Sessions].
func (db *DB) RefreshToken(ctx context.Context, hash [32]byte) (store.RefreshToken, error) {
	var t store.RefreshToken
	var h []byte
	var rotated *time.Time
	err := db.conn.QueryRow(ctx, `SELECT `+refreshColumns+` FROM refresh_tokens WHERE hash = $1`+db.dialect.ForUpdate,
		hash[:]).Scan(&h, &t.SessionID, &t.IssuedAt, &rotated, &t.GraceUsed)
	if err != nil {
		return t, fmt.Errorf("read refresh token: %w", err)
	}
	if rotated != nil {
		t.RotatedAt = *rotated
	}
	t.Hash, err = hash32(h)
	return t, err
}

// RefreshTokenSession implements [store.Sessions].
func (db *DB) RefreshTokenSession(ctx context.Context, hash [32]byte) (store.RefreshToken, store.Session, error) {
	t := store.RefreshToken{Hash: hash}
	var rotated *time.Time
	var s store.Session
	var methods string
	var revoked *time.Time
	var idle int64
	err := db.conn.QueryRow(ctx, `SELECT t.issued_at, t.rotated_at, t.grace_used,
		s.id, s.user_id, s.created_at, s.last_seen_at, s.idle_expires_at, s.absolute_expires_at, s.network,
		s.user_agent, s.device_id, s.auth_methods, s.auth_level, s.auth_time, s.revoked_at, s.revoke_reason, s.refresh_key,
		s.longest_idle_seconds, s.sso_org_id
		FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id WHERE t.hash = $1`, hash[:]).Scan(
		&t.IssuedAt, &rotated, &t.GraceUsed,
		&s.ID, &s.UserID, &s.CreatedAt, &s.LastSeenAt, &s.IdleExpiresAt, &s.AbsoluteExpiresAt, &s.Network,
		&s.UserAgent, &s.DeviceID, &methods, &s.AuthLevel, &s.AuthTime, &revoked, &s.RevokeReason, &s.RefreshKey, &idle, &s.SSOOrgID)
	if err != nil {
		return t, s, fmt.Errorf("read refresh token: %w", err)
	}
	s.LongestIdle = time.Duration(idle) * time.Second
	t.SessionID = s.ID
	if rotated != nil {
		t.RotatedAt = *rotated
	}
	if methods != "" {
		s.AuthMethods = strings.Split(methods, " ")
	}
	if revoked != nil {
		s.RevokedAt = *revoked
	}
	return t, s, nil
}

// RotateRefreshToken implements [store.Sessions]. The conditional UPDATE
// decides: of concurrent callers only one sees rotated_at IS NULL. On
// PostgreSQL the three writes are one statement, one round trip.
func (db *DB) RotateRefreshToken(ctx context.Context, old [32]byte, next store.RefreshToken, idleUntil time.Time) error {
	if db.dialect.ChainedWrites {
		n, err := db.conn.Exec(ctx, `WITH old AS (
				UPDATE refresh_tokens SET rotated_at = $2
				WHERE hash = $1 AND rotated_at IS NULL
				AND session_id IN (SELECT id FROM sessions WHERE id = $4 AND revoked_at IS NULL)
				RETURNING session_id),
			ins AS (INSERT INTO refresh_tokens (`+refreshColumns+`)
				SELECT $3, session_id, $2, NULL, false FROM old RETURNING session_id)
			UPDATE sessions SET last_seen_at = $2, idle_expires_at = $5 FROM ins WHERE sessions.id = ins.session_id`,
			old[:], next.IssuedAt, next.Hash[:], next.SessionID, idleUntil)
		return rotated(n, err)
	}
	return db.tx(ctx, func(c Conn) error {
		n, err := c.Exec(ctx, `UPDATE refresh_tokens SET rotated_at = $2 WHERE hash = $1 AND rotated_at IS NULL
			AND session_id IN (SELECT id FROM sessions WHERE id = $3 AND revoked_at IS NULL)`,
			old[:], next.IssuedAt, next.SessionID)
		if err := rotated(n, err); err != nil {
			return err
		}
		if err := insertRefreshToken(ctx, c, next); err != nil {
			return err
		}
		_, err = c.Exec(ctx, `UPDATE sessions SET last_seen_at = $2, idle_expires_at = $3 WHERE id = $1`,
			next.SessionID, next.IssuedAt, idleUntil)
		if err != nil {
			return fmt.Errorf("touch session: %w", err)
		}
		return nil
	})
}

// rotated interprets the row count of a rotation's conditional UPDATE.
func rotated(n int64, err error) error {
	if err != nil {
		return fmt.Errorf("rotate refresh token: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("rotate refresh token: %w", store.ErrUsed)
	}
	return nil
}

// UseRefreshGrace implements [store.Sessions].
func (db *DB) UseRefreshGrace(ctx context.Context, hash [32]byte, since time.Time) error {
	n, err := db.conn.Exec(ctx, `UPDATE refresh_tokens SET grace_used = true
		WHERE hash = $1 AND grace_used = false AND rotated_at IS NOT NULL AND rotated_at >= $2`, hash[:], since)
	if err != nil {
		return fmt.Errorf("use refresh grace: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("use refresh grace: %w", store.ErrUsed)
	}
	return nil
}
