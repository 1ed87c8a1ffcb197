package rotate

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/audit"
	"github.com/gatehouse-dev/gatehouse/shared/store"
)

// SigningKeys is the token-signing key set the signing-keys task rotates
// (auth-core's *token.Signer).
type SigningKeys interface {
	// Rotate creates a new signing key, published before it signs.
	Rotate(ctx context.Context) error
	// Purge drops keys whose tokens have all expired at now and returns
	// how many it dropped.
	Purge(ctx context.Context, now time.Time) (int64, error)
}

// dataKeys makes a new primary data key when the current one is older than
// the configured period, or (suspected exposure) was created no later than
// the run started. Idempotent: once a new key exists neither condition
// holds, and a resumed run skips the task once its report says done.
func (r *Rotator) dataKeys(ctx context.Context, rn *run) (result, error) {
	p, err := r.store.PrimaryDataKey(ctx)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return result{}, fmt.Errorf("read primary data key: %w", err)
	}
	now := r.now()
	var due bool
	var note string
	switch {
	case err != nil:
		due, note = true, "no primary data key"
	case rn.exposure():
		due, note = !p.CreatedAt.After(rn.started), fmt.Sprintf("primary %s created %s", p.ID, p.CreatedAt.UTC().Format(time.RFC3339))
	default:
		due, note = now.Sub(p.CreatedAt) >= r.cfg.DataKeyPeriod, fmt.Sprintf("primary %s is %s old", p.ID, now.Sub(p.CreatedAt).Round(time.Minute))
	}
	switch {
	case !due:
		return result{counts: map[string]int64{"rotated": 0}, note: note}, nil
	case rn.dry():
		return result{counts: map[string]int64{"would_rotate": 1}, note: note}, nil
	}
	k, err := r.keyring.Rotate(ctx)
	if err != nil {
		return result{}, fmt.Errorf("rotate data key: %w", err)
	}
	r.event(ctx, rn, "keys.rotate", k.ID, map[string]any{"previous": p.ID})
	return result{counts: map[string]int64{"rotated": 1}, note: "new primary " + k.ID}, nil
}

// rewrap re-wraps every live data key that the KEK's current version did
// not wrap: two KMS calls per such key, none per record. Finding the
// current version costs one probe call unless the KEK knows it.
func (r *Rotator) rewrap(ctx context.Context, rn *run) (result, error) {
	version, err := r.kek.currentVersion(ctx, r.rand)
	if err != nil {
		return result{}, err
	}
	keys, err := r.store.ListDataKeys(ctx)
	if err != nil {
		return result{}, fmt.Errorf("list data keys: %w", err)
	}
	counts := map[string]int64{"rewrapped": 0, "current": 0}
	for _, k := range keys {
		switch {
		case k.State == store.DataKeyDestroyed:
			continue
		case k.KEKVersion == version:
			counts["current"]++
		case rn.dry():
			counts["would_rewrap"]++
		default:
			if _, err := r.keyring.Rewrap(ctx, k.ID); err != nil {
				return result{counts: counts}, fmt.Errorf("rewrap data key %s: %w", k.ID, err)
			}
			counts["rewrapped"]++
		}
	}
	if !rn.dry() {
		if err := r.store.SetRotationState(ctx, "rewrap.kek_version", version, r.now()); err != nil {
			return result{counts: counts}, err
		}
	}
	return result{counts: counts, note: "KEK version " + version}, nil
}

// signingKeys rotates the token-signing key when the newest is older than
// the configured period, or (suspected exposure) older than the run, then
// drops public keys whose tokens have all expired.
func (r *Rotator) signingKeys(ctx context.Context, rn *run) (result, error) {
	if r.signing == nil {
		return result{skipped: true, note: "no signing-key rotator registered"}, nil
	}
	counts := map[string]int64{"rotated": 0}
	if rn.dry() {
		due, err := r.signingKeyDue(ctx, rn)
		if due {
			counts["would_rotate"] = 1
		}
		return result{counts: counts, note: "dry run: public keys not purged"}, err
	}
	signer, err := r.signing(ctx) // creates the first key if there is none
	if err != nil {
		return result{}, err
	}
	due, err := r.signingKeyDue(ctx, rn)
	if err != nil {
		return result{}, err
	}
	if due {
		if err := signer.Rotate(ctx); err != nil {
			return result{counts: counts}, fmt.Errorf("rotate signing key: %w", err)
		}
		counts["rotated"] = 1
		r.event(ctx, rn, "token.signing_key_rotate", "", nil)
	}
	n, err := signer.Purge(ctx, r.now())
	counts["public_keys_purged"] = n
	if err != nil {
		return result{counts: counts}, fmt.Errorf("purge signing keys: %w", err)
	}
	return result{counts: counts}, nil
}

// signingKeyDue reports whether the newest signing key is older than the
// period or, on suspected exposure, than the run.
func (r *Rotator) signingKeyDue(ctx context.Context, rn *run) (bool, error) {
	keys, err := r.store.SigningKeys(ctx)
	if err != nil {
		return false, fmt.Errorf("list signing keys: %w", err)
	}
	var newest time.Time
	for _, k := range keys {
		if k.CreatedAt.After(newest) {
			newest = k.CreatedAt
		}
	}
	return len(keys) == 0 || r.now().Sub(newest) >= r.cfg.SigningKeyPeriod || rn.exposure() && !newest.After(rn.started), nil
}

// event records one audit event of a run's effect. Its failure is logged
// only: the run's own event records the run.
func (r *Rotator) event(ctx context.Context, rn *run, action, target string, meta map[string]any) {
	if meta == nil {
		meta = map[string]any{}
	}
	meta["run_id"], meta["reason"] = rn.req.ID, rn.req.Message.Reason
	if _, err := r.d.Audit.Record(ctx, audit.Event{Actor: rn.req.Actor, Action: action, Target: target, Metadata: meta}); err != nil {
		r.d.Logger.ErrorContext(ctx, "audit event not recorded", "action", action, "error", err.Error())
	}
}
