// Package audit writes Gatehouse's append-only audit log, integrates it into
// a Merkle tree with signed checkpoints, proves and verifies it.
//
// An append ([Log.RecordTx]) inserts the event and its leaf hash in the
// caller's transaction and takes no lock other appends wait on. The
// [Sequencer], one holder at a time under a lease, integrates committed
// events into the RFC 6962 tree in batches and signs a C2SP checkpoint for
// every batch; each event and each checkpoint is also written as a
// structured log line ("log_type":"audit"), which the log sink routes to
// the locked bucket. [Verify] checks the stored log against its newest
// checkpoint; [Prover] makes inclusion and consistency proofs that
// shared/auditproof checks offline with the public key alone.
package audit

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/store"
)

// Event is what a caller records. Metadata must hold no secret: keys that
// name one are refused (AUDIT-2).
type Event struct {
	Actor    string // user id, service account or "system"
	OrgID    string
	Action   string // dotted, e.g. "auth.login"
	Target   string
	Outcome  store.Outcome
	Network  string // client network prefix
	Metadata map[string]any
}

// ErrSecretMetadata is returned for metadata whose keys name a secret.
var ErrSecretMetadata = errors.New("audit: metadata key names a secret")

// Log records audit events.
type Log struct {
	store  store.AuditLog
	logger *slog.Logger
	now    func() time.Time
	wake   func() // tells the local sequencer an event is on its way
}

// New returns a Log over s that also logs each event to logger.
func New(s store.AuditLog, logger *slog.Logger, now func() time.Time) *Log {
	if now == nil {
		now = time.Now
	}
	return &Log{store: s, logger: logger, now: now}
}

// WakeOnRecord makes every recorded event wake q, so the instance that
// wrote an event integrates it soon (see [Sequencer.Run]).
func (l *Log) WakeOnRecord(q *Sequencer) { l.wake = q.Wake }

// Record appends e to the log.
func (l *Log) Record(ctx context.Context, e Event) (store.AuditEvent, error) {
	return l.RecordTx(ctx, l.store, e)
}

// RecordTx appends e through tx, a transaction-bound store, so the event
// commits or rolls back with the change it describes.
func (l *Log) RecordTx(ctx context.Context, tx store.AuditLog, e Event) (store.AuditEvent, error) {
	meta, err := canonicalMetadata(e.Metadata)
	if err != nil {
		return store.AuditEvent{}, fmt.Errorf("record %s: %w", e.Action, err)
	}
	if e.Outcome == "" {
		e.Outcome = store.OutcomeSuccess
	}
	stored, err := tx.AppendAuditEvent(ctx, store.AuditEvent{
		Time: l.now(), Actor: e.Actor, OrgID: e.OrgID, Action: e.Action, Target: e.Target,
		Outcome: e.Outcome, Network: e.Network, Metadata: meta,
	})
	if err != nil {
		return stored, fmt.Errorf("record %s: %w", e.Action, err)
	}
	if l.wake != nil {
		l.wake()
	}
	if l.logger != nil {
		l.logger.LogAttrs(ctx, slog.LevelInfo, "audit "+stored.Action,
			slog.String("log_type", "audit"),
			slog.Int64("audit_id", stored.ID),
			slog.String("actor", stored.Actor),
			slog.String("org_id", stored.OrgID),
			slog.String("action", stored.Action),
			slog.String("target", stored.Target),
			slog.String("outcome", string(stored.Outcome)),
			slog.String("network", stored.Network),
			slog.String("metadata", stored.Metadata),
			// Base64, as proofs and checkpoints carry hashes (and a long
			// hex run would spell any 6-digit code by chance one day).
			slog.String("leaf_hash", base64.StdEncoding.EncodeToString(stored.LeafHash[:])))
	}
	return stored, nil
}

// canonicalMetadata encodes m as JSON with sorted keys (encoding/json sorts
// map keys at every level), refusing any key, at any depth and whatever Go
// type carried it (nested maps, slices of maps, structs), that names a
// secret: the check runs on the encoded JSON, which is what is stored.
func canonicalMetadata(m map[string]any) (string, error) {
	if len(m) == 0 {
		return "{}", nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return "", fmt.Errorf("encode metadata: %w", err)
	}
	var decoded any
	if err := json.Unmarshal(b, &decoded); err != nil {
		return "", fmt.Errorf("encode metadata: %w", err)
	}
	if err := checkKeys(decoded); err != nil {
		return "", err
	}
	return string(b), nil
}

// checkKeys walks decoded JSON and refuses the first object key that names
// a secret.
func checkKeys(v any) error {
	switch v := v.(type) {
	case map[string]any:
		for k, sub := range v {
			if secretKey(k) {
				return fmt.Errorf("%w: %q", ErrSecretMetadata, k)
			}
			if err := checkKeys(sub); err != nil {
				return err
			}
		}
	case []any:
		for _, sub := range v {
			if err := checkKeys(sub); err != nil {
				return err
			}
		}
	}
	return nil
}

// secretKey reports whether a metadata key names a secret value.
func secretKey(k string) bool {
	k = strings.ToLower(k)
	for _, s := range []string{"password", "passwd", "secret", "private_key", "authorization", "cookie", "card_number", "cvc", "cvv"} {
		if strings.Contains(k, s) {
			return true
		}
	}
	for _, s := range []string{"token", "otp", "totp", "pan"} {
		if k == s || strings.HasSuffix(k, "_"+s) {
			return true
		}
	}
	return k == "code" || strings.HasSuffix(k, "_code") && !strings.HasSuffix(k, "error_code") && !strings.HasSuffix(k, "status_code")
}
