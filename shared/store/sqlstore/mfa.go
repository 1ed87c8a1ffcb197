package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/envelope"
	"github.com/gatehouse-dev/gatehouse/shared/store"
)

// PutTOTPSecret implements [store.MFAFactors]. The sealed column's key id
// is kept in sync with the ciphertext (see store.SealedColumn).
func (db *DB) PutTOTPSecret(ctx context.Context, s store.TOTPSecret) error {
	keyID, err := envelope.KeyID(s.Secret)
	if err != nil {
		return fmt.Errorf("store totp secret of %s: %w", s.UserID, err)
	}
	return db.tx(ctx, func(c Conn) error {
		if _, err := c.Exec(ctx, `DELETE FROM totp_secrets WHERE user_id = $1 AND confirmed_at IS NULL`, s.UserID); err != nil {
			return fmt.Errorf("replace totp secret of %s: %w", s.UserID, err)
		}
		_, err := c.Exec(ctx, `INSERT INTO totp_secrets (id, user_id, secret, secret_key_id, last_step, created_at)
			VALUES ($1, $2, $3, $4, 0, $5)`, s.ID, s.UserID, s.Secret, keyID, s.CreatedAt)
		if err != nil {
			return fmt.Errorf("store totp secret of %s: %w", s.UserID, err)
		}
		return nil
	})
}

// TOTPSecret implements [store.MFAFactors].
func (db *DB) TOTPSecret(ctx context.Context, userID string) (store.TOTPSecret, error) {
	var s store.TOTPSecret
	var confirmed *time.Time
	err := db.conn.QueryRow(ctx, `SELECT id, user_id, secret, confirmed_at, last_step, created_at
		FROM totp_secrets WHERE user_id = $1`, userID).
		Scan(&s.ID, &s.UserID, &s.Secret, &confirmed, &s.LastStep, &s.CreatedAt)
	if err != nil {
		return s, fmt.Errorf("read totp secret of %s: %w", userID, err)
	}
	if confirmed != nil {
		s.ConfirmedAt = *confirmed
	}
	return s, nil
}

// ConfirmTOTPSecret implements [store.MFAFactors].
func (db *DB) ConfirmTOTPSecret(ctx context.Context, userID string, step int64, now time.Time) error {
	n, err := db.conn.Exec(ctx, `UPDATE totp_secrets SET confirmed_at = $2, last_step = $3
		WHERE user_id = $1 AND confirmed_at IS NULL`, userID, now, step)
	if err != nil {
		return fmt.Errorf("confirm totp secret of %s: %w", userID, err)
	}
	if n == 1 {
		return nil
	}
	if _, err := db.TOTPSecret(ctx, userID); err != nil {
		return err
	}
	return fmt.Errorf("confirm totp secret of %s: %w", userID, store.ErrConflict)
}

// UseTOTPStep implements [store.MFAFactors]. The conditional UPDATE is the
// whole decision: the database lets one caller move last_step past step.
func (db *DB) UseTOTPStep(ctx context.Context, userID string, step int64) error {
	n, err := db.conn.Exec(ctx, `UPDATE totp_secrets SET last_step = $2
		WHERE user_id = $1 AND confirmed_at IS NOT NULL AND last_step < $2`, userID, step)
	if err != nil {
		return fmt.Errorf("use totp step of %s: %w", userID, err)
	}
	if n == 1 {
		return nil
	}
	s, err := db.TOTPSecret(ctx, userID)
	if err != nil {
		return err
	}
	if s.ConfirmedAt.IsZero() {
		return fmt.Errorf("use totp step of %s: unconfirmed: %w", userID, store.ErrNotFound)
	}
	return fmt.Errorf("use totp step of %s: %w", userID, store.ErrUsed)
}

// DeleteTOTPSecret implements [store.MFAFactors].
func (db *DB) DeleteTOTPSecret(ctx context.Context, userID string) error {
	n, err := db.conn.Exec(ctx, `DELETE FROM totp_secrets WHERE user_id = $1`, userID)
	if err != nil {
		return fmt.Errorf("delete totp secret of %s: %w", userID, err)
	}
	if n == 0 {
		return fmt.Errorf("delete totp secret of %s: %w", userID, store.ErrNotFound)
	}
	return nil
}

// ReplaceRecoveryCodes implements [store.MFAFactors].
func (db *DB) ReplaceRecoveryCodes(ctx context.Context, userID string, hashes [][32]byte, now time.Time) error {
	return db.tx(ctx, func(c Conn) error {
		if _, err := c.Exec(ctx, `DELETE FROM recovery_codes WHERE user_id = $1`, userID); err != nil {
			return fmt.Errorf("delete recovery codes of %s: %w", userID, err)
		}
		for _, h := range hashes {
			if _, err := c.Exec(ctx, `INSERT INTO recovery_codes (user_id, hash, created_at) VALUES ($1, $2, $3)`,
				userID, h[:], now); err != nil {
				return fmt.Errorf("insert recovery code of %s: %w", userID, err)
			}
		}
		return nil
	})
}

// UseRecoveryCode implements [store.MFAFactors].
func (db *DB) UseRecoveryCode(ctx context.Context, userID string, hash [32]byte, now time.Time) error {
	n, err := db.conn.Exec(ctx, `UPDATE recovery_codes SET used_at = $3
		WHERE user_id = $1 AND hash = $2 AND used_at IS NULL`, userID, hash[:], now)
	if err != nil {
		return fmt.Errorf("use recovery code of %s: %w", userID, err)
	}
	if n == 1 {
		return nil
	}
	var count int64
	if err := db.conn.QueryRow(ctx, `SELECT count(*) FROM recovery_codes WHERE user_id = $1 AND hash = $2`,
		userID, hash[:]).Scan(&count); err != nil {
		return fmt.Errorf("use recovery code of %s: %w", userID, err)
	}
	if count == 0 {
		return fmt.Errorf("use recovery code of %s: %w", userID, store.ErrNotFound)
	}
	return fmt.Errorf("use recovery code of %s: %w", userID, store.ErrUsed)
}

// RecoveryCodesLeft implements [store.MFAFactors].
func (db *DB) RecoveryCodesLeft(ctx context.Context, userID string) (int, error) {
	var n int64
	if err := db.conn.QueryRow(ctx, `SELECT count(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL`,
		userID).Scan(&n); err != nil {
		return 0, fmt.Errorf("count recovery codes of %s: %w", userID, err)
	}
	return int(n), nil
}

// DeleteRecoveryCodes implements [store.MFAFactors].
func (db *DB) DeleteRecoveryCodes(ctx context.Context, userID string) error {
	if _, err := db.conn.Exec(ctx, `DELETE FROM recovery_codes WHERE user_id = $1`, userID); err != nil {
		return fmt.Errorf("delete recovery codes of %s: %w", userID, err)
	}
	return nil
}

// WebAuthnHandle implements [store.MFAFactors].
func (db *DB) WebAuthnHandle(ctx context.Context, userID string, handle []byte, now time.Time) ([]byte, error) {
	var out []byte
	err := db.tx(ctx, func(c Conn) error {
		_, err := c.Exec(ctx, `INSERT INTO webauthn_users (user_id, handle, created_at) VALUES ($1, $2, $3)
			ON CONFLICT (user_id) DO NOTHING`, userID, handle, now)
		if err != nil {
			return fmt.Errorf("store webauthn handle of %s: %w", userID, err)
		}
		return c.QueryRow(ctx, `SELECT handle FROM webauthn_users WHERE user_id = $1`, userID).Scan(&out)
	})
	if err != nil {
		return nil, fmt.Errorf("read webauthn handle of %s: %w", userID, err)
	}
	return out, nil
}

// WebAuthnUserByHandle implements [store.MFAFactors].
func (db *DB) WebAuthnUserByHandle(ctx context.Context, handle []byte) (string, error) {
	var userID string
	if err := db.conn.QueryRow(ctx, `SELECT user_id FROM webauthn_users WHERE handle = $1`, handle).Scan(&userID); err != nil {
		return "", fmt.Errorf("find webauthn user: %w", err)
	}
	return userID, nil
}

const webauthnColumns = `id, user_id, credential_id, public_key, sign_count, transports, aaguid,
	user_verified, backup_eligible, backup_state, clone_warning, created_at, last_used_at, name`

// CreateWebAuthnCredential implements [store.MFAFactors].
func (db *DB) CreateWebAuthnCredential(ctx context.Context, c store.WebAuthnCredential) error {
	_, err := db.conn.Exec(ctx, `INSERT INTO webauthn_credentials (`+webauthnColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, NULL, $13)`,
		c.ID, c.UserID, c.CredentialID, c.PublicKey, int64(c.SignCount), strings.Join(c.Transports, " "),
		c.AAGUID, c.UserVerified, c.BackupEligible, c.BackupState, c.CloneWarning, c.CreatedAt, c.Name)
	if err != nil {
		return fmt.Errorf("insert webauthn credential of %s: %w", c.UserID, err)
	}
	return nil
}

func scanWebAuthn(r Row) (store.WebAuthnCredential, error) {
	var c store.WebAuthnCredential
	var count int64
	var transports string
	var used *time.Time
	err := r.Scan(&c.ID, &c.UserID, &c.CredentialID, &c.PublicKey, &count, &transports, &c.AAGUID,
		&c.UserVerified, &c.BackupEligible, &c.BackupState, &c.CloneWarning, &c.CreatedAt, &used, &c.Name)
	if err != nil {
		return c, err
	}
	if count < 0 || count > 1<<32-1 {
		return c, fmt.Errorf("webauthn credential %s: stored counter %d out of range", c.ID, count)
	}
	c.SignCount = uint32(count)
	c.Transports = strings.Fields(transports)
	if used != nil {
		c.LastUsedAt = *used
	}
	return c, nil
}

// WebAuthnCredentials implements [store.MFAFactors].
func (db *DB) WebAuthnCredentials(ctx context.Context, userID string) ([]store.WebAuthnCredential, error) {
	rows, err := db.conn.Query(ctx, `SELECT `+webauthnColumns+` FROM webauthn_credentials
		WHERE user_id = $1 ORDER BY created_at, id`, userID)
	out, err := collect(rows, err, func(r Rows) (store.WebAuthnCredential, error) { return scanWebAuthn(r) })
	if err != nil {
		return nil, fmt.Errorf("list webauthn credentials of %s: %w", userID, err)
	}
	return out, nil
}

// UseWebAuthnCredential implements [store.MFAFactors]. The counter check
// is part of the UPDATE, so two assertions cannot both move it to the same
// value. A failed check sets the clone warning in its own statement:
// running this inside a transaction that is then rolled back loses it.
func (db *DB) UseWebAuthnCredential(ctx context.Context, userID, id string, use store.WebAuthnUse) error {
	count := int64(use.SignCount)
	n, err := db.conn.Exec(ctx, `UPDATE webauthn_credentials
		SET sign_count = $3, user_verified = $4, backup_state = $5, last_used_at = $6
		WHERE user_id = $1 AND id = $2 AND clone_warning = $7
		  AND (sign_count < $3 OR (sign_count = 0 AND $3 = 0))`,
		userID, id, count, use.UserVerified, use.BackupState, use.Time, false)
	if err != nil {
		return fmt.Errorf("use webauthn credential %s: %w", id, err)
	}
	if n == 1 {
		return nil
	}
	n, err = db.conn.Exec(ctx, `UPDATE webauthn_credentials SET clone_warning = $3 WHERE user_id = $1 AND id = $2`,
		userID, id, true)
	switch {
	case err != nil:
		return fmt.Errorf("flag webauthn credential %s: %w", id, err)
	case n == 0:
		return fmt.Errorf("use webauthn credential %s: %w", id, store.ErrNotFound)
	}
	return fmt.Errorf("use webauthn credential %s: counter did not advance: %w", id, store.ErrConflict)
}

// RenameWebAuthnCredential implements [store.MFAFactors].
func (db *DB) RenameWebAuthnCredential(ctx context.Context, userID, id, name string) error {
	n, err := db.conn.Exec(ctx, `UPDATE webauthn_credentials SET name = $3 WHERE user_id = $1 AND id = $2`, userID, id, name)
	if err != nil {
		return fmt.Errorf("rename webauthn credential %s: %w", id, err)
	}
	if n == 0 {
		return store.ErrNotFound
	}
	return nil
}

// DeleteWebAuthnCredential implements [store.MFAFactors].
func (db *DB) DeleteWebAuthnCredential(ctx context.Context, userID, id string) error {
	n, err := db.conn.Exec(ctx, `DELETE FROM webauthn_credentials WHERE user_id = $1 AND id = $2`, userID, id)
	if err != nil {
		return fmt.Errorf("delete webauthn credential %s: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("delete webauthn credential %s: %w", id, store.ErrNotFound)
	}
	return nil
}

// DeleteUserMFA implements [store.MFAFactors].
func (db *DB) DeleteUserMFA(ctx context.Context, userID string) error {
	return db.tx(ctx, func(c Conn) error {
		for _, q := range []string{
			`DELETE FROM totp_secrets WHERE user_id = $1`,
			`DELETE FROM recovery_codes WHERE user_id = $1`,
			`DELETE FROM webauthn_credentials WHERE user_id = $1`,
			`DELETE FROM webauthn_users WHERE user_id = $1`,
		} {
			// sqltext: q is one of the literal statements listed above.
			if _, err := c.Exec(ctx, q, userID); err != nil {
				return fmt.Errorf("delete mfa data of %s: %w", userID, err)
			}
		}
		return nil
	})
}
