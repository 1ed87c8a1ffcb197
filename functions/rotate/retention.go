package rotate

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/envelope"
	"github.com/gatehouse-dev/gatehouse/shared/store"
)

// retentionBatch bounds the audit events one retention transaction deletes.
const retentionBatch = 10000

// auditCutoff is how old an audit event must be to be deleted (AUDIT-3):
// 12 months, and a day more so the database, whose clock enforces 12
// months itself, never refuses for a clock a little behind ours.
func auditCutoff(now time.Time) time.Time { return now.AddDate(0, -12, -1) }

// retention deletes the contents of integrated audit events older than 12
// months, in batches, each after writing a signed retention mark (the last
// deleted event's place and leaf hash); the leaves, nodes and signed
// checkpoints stay, so proofs and verification of every later event keep
// working. Then it runs the retention purgers (billing records: 7 years).
func (r *Rotator) retention(ctx context.Context, rn *run) (result, error) {
	counts := map[string]int64{"audit_events_deleted": 0}
	cutoff := auditCutoff(r.now())
	// Only integrated events expire: integrate what is final first (the
	// rotate function is also the sequencer's backstop when no other
	// instance runs). Another holder of the lease integrates instead.
	if r.d.Sequencer != nil && !rn.dry() {
		n, err := r.d.Sequencer.Integrate(ctx)
		if err != nil && !errors.Is(err, store.ErrConflict) {
			return result{counts: counts}, fmt.Errorf("integrate audit events: %w", err)
		}
		counts["audit_events_integrated"] = int64(n)
	}
	for {
		seq, hash, err := r.store.AuditRetentionPoint(ctx, cutoff, retentionBatch)
		if errors.Is(err, store.ErrNotFound) {
			break
		}
		if err != nil {
			return result{counts: counts}, fmt.Errorf("find audit retention point: %w", err)
		}
		if rn.dry() {
			cp, err := r.store.AuditCheckpoint(ctx)
			if err != nil {
				return result{counts: counts}, err
			}
			counts["audit_events_would_delete"] = seq - cp.Seq
			break
		}
		n, err := r.applyRetention(ctx, cutoff, seq, hash)
		counts["audit_events_deleted"] += n
		if err != nil {
			return result{counts: counts}, err
		}
		counts["checkpoint_seq"] = seq
	}
	res, err := r.runPurgers(ctx, rn, r.retain, "")
	for k, v := range res.counts {
		counts[k] = v
	}
	return result{counts: counts, note: "cutoff " + cutoff.UTC().Format(time.RFC3339)}, err
}

// applyRetention signs the checkpoint for event seq and hands it to the
// store, which deletes the events up to it.
func (r *Rotator) applyRetention(ctx context.Context, cutoff time.Time, seq int64, hash [32]byte) (int64, error) {
	key, err := checkpointKey(ctx, r.store, r.keyring, r.rand, r.now)
	if err != nil {
		return 0, err
	}
	defer clear(key)
	at := r.now().UTC().Truncate(time.Microsecond)
	n, err := r.store.ApplyAuditRetention(ctx, store.AuditRetention{Cutoff: cutoff, Seq: seq, Hash: hash, At: at,
		Signature: checkpointMAC(key, seq, hash, at)})
	if err != nil {
		return 0, fmt.Errorf("delete audit events up to %d: %w", seq, err)
	}
	return n, nil
}

// checkpointSecretID names the HMAC key of retention checkpoints in
// rotation_secrets; it is sealed there like any other secret, so database
// access alone can neither read it nor forge a checkpoint.
const checkpointSecretID = "audit-checkpoint-hmac"

func checkpointBinding() envelope.Binding {
	return envelope.Binding{Record: checkpointSecretID, Field: "rotation_secrets.secret"}
}

// checkpointKey returns the checkpoint HMAC key, creating and sealing it on
// first use (a concurrent creator's key wins). The caller clears it.
func checkpointKey(ctx context.Context, s store.Rotation, kr *envelope.Keyring, rnd io.Reader, now func() time.Time) ([]byte, error) {
	sec, err := s.RotationSecret(ctx, checkpointSecretID)
	if errors.Is(err, store.ErrNotFound) {
		if err := createCheckpointKey(ctx, s, kr, rnd, now()); err != nil && !errors.Is(err, store.ErrConflict) {
			return nil, err
		}
		sec, err = s.RotationSecret(ctx, checkpointSecretID)
	}
	if err != nil {
		return nil, fmt.Errorf("read checkpoint key: %w", err)
	}
	key, err := kr.Open(ctx, envelope.PurposeCredential, checkpointBinding(), sec.Sealed)
	if err != nil {
		return nil, fmt.Errorf("open checkpoint key: %w", err)
	}
	return key, nil
}

func createCheckpointKey(ctx context.Context, s store.Rotation, kr *envelope.Keyring, rnd io.Reader, now time.Time) error {
	key := make([]byte, 32)
	defer clear(key)
	if _, err := io.ReadFull(rnd, key); err != nil {
		return fmt.Errorf("create checkpoint key: %w", err)
	}
	sealed, err := kr.Seal(ctx, envelope.PurposeCredential, checkpointBinding(), key)
	if err != nil {
		return fmt.Errorf("seal checkpoint key: %w", err)
	}
	kid, err := envelope.KeyID(sealed)
	if err != nil {
		return err
	}
	return s.CreateRotationSecret(ctx, store.RotationSecret{ID: checkpointSecretID, Sealed: sealed, KeyID: kid, CreatedAt: now})
}

// checkpointMAC is HMAC-SHA256 over a domain-separation label, the
// sequence number, the hash and the time (UTC microseconds) of a
// checkpoint.
func checkpointMAC(key []byte, seq int64, hash [32]byte, at time.Time) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("gatehouse/audit-checkpoint/v1"))
	m.Write(binary.BigEndian.AppendUint64(nil, uint64(seq)))
	m.Write(hash[:])
	m.Write(binary.BigEndian.AppendUint64(nil, uint64(at.UTC().UnixMicro())))
	return m.Sum(nil)
}

// ErrCheckpointSignature means the retention checkpoint is not signed by
// the retention job: it was forged or altered, or its signature is missing.
var ErrCheckpointSignature = errors.New("rotate: audit checkpoint signature does not verify")

// VerifyCheckpoint checks the signature of the audit retention checkpoint
// with the sealed checkpoint key. A log never trimmed has no checkpoint and
// verifies. It returns the checkpoint, [ErrCheckpointSignature] if the
// signature does not verify, or the error of reading or opening the key
// (envelope.ErrUnavailable when KMS is down: retry).
func VerifyCheckpoint(ctx context.Context, s store.Store, kr *envelope.Keyring) (store.SignedAuditCheckpoint, error) {
	cp, err := s.SignedAuditCheckpoint(ctx)
	if err != nil || cp.Seq == 0 {
		return cp, err
	}
	sec, err := s.RotationSecret(ctx, checkpointSecretID)
	if errors.Is(err, store.ErrNotFound) {
		return cp, fmt.Errorf("%w: no checkpoint key exists", ErrCheckpointSignature)
	}
	if err != nil {
		return cp, fmt.Errorf("read checkpoint key: %w", err)
	}
	key, err := kr.Open(ctx, envelope.PurposeCredential, checkpointBinding(), sec.Sealed)
	if err != nil {
		return cp, fmt.Errorf("open checkpoint key: %w", err)
	}
	defer clear(key)
	if !hmac.Equal(cp.Signature, checkpointMAC(key, cp.Seq, cp.Hash, cp.Time)) {
		return cp, fmt.Errorf("%w: checkpoint at event %d", ErrCheckpointSignature, cp.Seq)
	}
	return cp, nil
}

// CheckpointChecker adapts [VerifyCheckpoint] to a check of the checkpoint
// audit.Verify starts from: the stored checkpoint must be cp and carry a
// valid signature.
func CheckpointChecker(s store.Store, kr *envelope.Keyring) func(context.Context, store.AuditCheckpoint) error {
	return func(ctx context.Context, cp store.AuditCheckpoint) error {
		signed, err := VerifyCheckpoint(ctx, s, kr)
		if err != nil {
			return err
		}
		if signed.Seq != cp.Seq || signed.Hash != cp.Hash {
			return fmt.Errorf("%w: checkpoint changed while verifying", ErrCheckpointSignature)
		}
		return nil
	}
}
