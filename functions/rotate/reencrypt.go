package rotate

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/envelope"
	"github.com/gatehouse-dev/gatehouse/shared/store"
)

// reencrypt moves every value of the sealed columns that a decrypt-only
// data key sealed to the primary key, in batches of cfg.BatchSize, each
// batch one transaction of compare-and-swap updates, and then destroys the
// decrypt-only keys no value references any more.
//
// It needs no cursor to resume: a value already moved no longer names the
// old key, so a run that stopped after any batch (crash, cancel, lost
// lease) picks up exactly the values still to do, and a value changed
// meanwhile (by its domain, or by a concurrent run) is left alone by the
// swap, never processed twice. A value that cannot be opened (tampered, or
// its key unusable) is counted as failed and keeps its key alive.
//
// A scheduled run destroys a key only DestroyDelay after its demotion (the
// next run does it). On suspected exposure, when a demoted key cannot be
// destroyed yet because instances may still seal under it (KeyPrimaryTTL),
// the task waits that out, re-encrypts what was sealed meanwhile, and
// destroys.
func (r *Rotator) reencrypt(ctx context.Context, rn *run) (result, error) {
	counts := map[string]int64{"resealed": 0, "failed": 0, "changed_meanwhile": 0, "keys_destroyed": 0}
	for pass := 0; ; pass++ {
		if err := r.reencryptPass(ctx, rn, counts); err != nil {
			return result{counts: counts}, err
		}
		wait, err := r.destroyUnreferenced(ctx, rn, counts)
		if err != nil {
			return result{counts: counts}, err
		}
		if wait <= 0 || !rn.exposure() || rn.dry() || pass > 0 {
			return result{counts: counts}, nil
		}
		if err := r.sleep(ctx, wait); err != nil {
			return result{counts: counts}, fmt.Errorf("wait for demoted keys to settle: %w", err)
		}
	}
}

// resealJob is the values of one column under one old key.
type resealJob struct {
	col     store.SealedColumn
	purpose envelope.Purpose
	keyID   string
}

// reencryptPass re-encrypts everything found under decrypt-only keys now.
func (r *Rotator) reencryptPass(ctx context.Context, rn *run, counts map[string]int64) error {
	jobs, total, err := r.planReencrypt(ctx, rn, counts)
	if err != nil || rn.dry() {
		return err
	}
	var done int64
	for _, j := range jobs {
		if err := r.resealKey(ctx, rn, j, &done, total, counts); err != nil {
			return err
		}
	}
	return nil
}

// planReencrypt lists, per column, the keys whose values must move, and
// counts the values that cannot (destroyed or unknown keys).
func (r *Rotator) planReencrypt(ctx context.Context, rn *run, counts map[string]int64) ([]resealJob, int64, error) {
	keys, err := r.store.ListDataKeys(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("list data keys: %w", err)
	}
	states := map[string]store.DataKeyState{}
	for _, k := range keys {
		states[k.ID] = k.State
	}
	var jobs []resealJob
	var total, orphaned, undecryptable int64
	defer func() {
		if orphaned > 0 || undecryptable > 0 {
			counts["orphaned"], counts["undecryptable"] = orphaned, undecryptable
		}
	}()
	for _, c := range r.columns {
		p, err := purposeOf(c)
		if err != nil {
			return nil, 0, err
		}
		refs, err := r.store.SealedKeyCounts(ctx, []store.SealedColumn{c})
		if err != nil {
			return nil, 0, err
		}
		for _, id := range slices.Sorted(maps.Keys(refs)) {
			n := refs[id]
			switch state, known := states[id]; {
			case state == store.DataKeyPrimary:
			case !known:
				orphaned += n // names a key that does not exist
			case state == store.DataKeyDestroyed:
				undecryptable += n
			case rn.dry():
				counts["would_reseal"] += n
			default:
				jobs = append(jobs, resealJob{col: c, purpose: p, keyID: id})
				total += n
			}
		}
	}
	return jobs, total, nil
}

// resealKey moves the values of one column under one old key, batch by
// batch.
func (r *Rotator) resealKey(ctx context.Context, rn *run, j resealJob, done *int64, total int64, counts map[string]int64) error {
	after := ""
	for {
		vs, err := r.store.SealedValues(ctx, j.col, j.keyID, after, r.cfg.BatchSize)
		if err != nil {
			return err
		}
		if len(vs) == 0 {
			return nil
		}
		reps, err := r.resealBatch(ctx, rn, j, vs, counts)
		if err != nil {
			return err
		}
		n, err := r.store.ReplaceSealed(ctx, j.col, reps)
		if err != nil {
			return fmt.Errorf("store re-encrypted %s values: %w", j.col.Field(), err)
		}
		counts["resealed"] += int64(n)
		counts["changed_meanwhile"] += int64(len(reps) - n)
		*done += int64(len(vs))
		rn.progress(TaskReencrypt, *done, total)
		if r.afterBatch != nil {
			if err := r.afterBatch(int(counts["batches"])); err != nil {
				return err
			}
		}
		counts["batches"]++
		after = vs[len(vs)-1].ID
		if len(vs) < r.cfg.BatchSize {
			return nil
		}
	}
}

// resealBatch opens and seals each value again under the primary key, in
// memory; the plaintext never leaves the keyring.
func (r *Rotator) resealBatch(ctx context.Context, rn *run, j resealJob, vs []store.SealedValue, counts map[string]int64) ([]store.SealedReplacement, error) {
	reps := make([]store.SealedReplacement, 0, len(vs))
	for _, v := range vs {
		b := envelope.Binding{Org: v.Org, Record: v.ID, Field: j.col.Field()}
		ct, err := r.keyring.Reseal(ctx, j.purpose, b, v.Ciphertext)
		if errors.Is(err, envelope.ErrPermanent) {
			counts["failed"]++
			r.d.Logger.WarnContext(ctx, "sealed value cannot be re-encrypted", "run_id", rn.req.ID,
				"field", j.col.Field(), "record", v.ID, "key_id", j.keyID, "error", err.Error())
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("re-encrypt %s of %s: %w", j.col.Field(), v.ID, err)
		}
		kid, err := envelope.KeyID(ct)
		if err != nil {
			return nil, fmt.Errorf("re-encrypt %s of %s: %w", j.col.Field(), v.ID, err)
		}
		reps = append(reps, store.SealedReplacement{ID: v.ID, Old: v.Ciphertext, New: ct, NewKeyID: kid})
	}
	return reps, nil
}

// destroyUnreferenced destroys the decrypt-only keys that no value names,
// neither in its key-id column nor, checked by reading every ciphertext's
// header, in the ciphertext itself. A key demoted less than DestroyDelay
// (on suspected exposure, KeyPrimaryTTL) ago is left for later: it returns
// how long until the last such key may go.
func (r *Rotator) destroyUnreferenced(ctx context.Context, rn *run, counts map[string]int64) (time.Duration, error) {
	keys, err := r.store.ListDataKeys(ctx)
	if err != nil {
		return 0, fmt.Errorf("list data keys: %w", err)
	}
	var cands []store.DataKey
	for _, k := range keys {
		if k.State == store.DataKeyDecryptOnly {
			cands = append(cands, k)
		}
	}
	counts["keys_referenced"], counts["keys_destroy_pending"] = 0, 0
	if len(cands) == 0 {
		return 0, nil
	}
	refs, err := r.store.SealedKeyCounts(ctx, r.columns)
	if err != nil {
		return 0, err
	}
	headers, err := r.headerKeys(ctx, counts)
	if err != nil {
		return 0, err
	}
	delay := max(r.cfg.DestroyDelay, r.cfg.KeyPrimaryTTL)
	if rn.exposure() {
		delay = r.cfg.KeyPrimaryTTL
	}
	now, wait := r.now(), time.Duration(0)
	for _, k := range cands {
		settle := k.UpdatedAt.Add(delay).Sub(now)
		switch {
		case refs[k.ID] > 0 || headers[k.ID]:
			counts["keys_referenced"]++
		case settle > 0:
			counts["keys_destroy_pending"]++
			wait = max(wait, settle)
		case rn.dry():
			counts["would_destroy"]++
		default:
			if err := r.keyring.Destroy(ctx, k.ID); err != nil {
				if cur, rerr := r.store.DataKey(ctx, k.ID); rerr == nil && cur.State == store.DataKeyDestroyed {
					continue // a concurrent run destroyed it first
				}
				return 0, fmt.Errorf("destroy data key %s: %w", k.ID, err)
			}
			counts["keys_destroyed"]++
			r.event(ctx, rn, "keys.destroy", k.ID, nil)
		}
	}
	return wait, nil
}

// headerKeys reads every sealed value and returns the set of data keys
// their headers name, counting values whose key-id column disagrees.
func (r *Rotator) headerKeys(ctx context.Context, counts map[string]int64) (map[string]bool, error) {
	seen := map[string]bool{}
	var mismatch, malformed int64
	defer func() { counts["key_id_mismatch"], counts["malformed"] = mismatch, malformed }()
	for _, c := range r.columns {
		after := ""
		for {
			vs, err := r.store.SealedValues(ctx, c, "", after, r.cfg.BatchSize)
			if err != nil {
				return nil, err
			}
			for _, v := range vs {
				id, err := envelope.KeyID(v.Ciphertext)
				if err != nil {
					malformed++
					continue
				}
				seen[id] = true
				if id != v.KeyID {
					mismatch++
				}
			}
			if len(vs) < r.cfg.BatchSize {
				break
			}
			after = vs[len(vs)-1].ID
		}
	}
	return seen, nil
}
