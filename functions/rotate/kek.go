package rotate

import (
	"context"
	"fmt"
	"io"
	"sync/atomic"

	"github.com/gatehouse-dev/gatehouse/shared/envelope"
)

// countingKEK counts the calls made to the key-encryption key, so a run's
// report says how many KMS requests it cost.
type countingKEK struct {
	inner envelope.KEK
	calls atomic.Int64
}

func (k *countingKEK) Wrap(ctx context.Context, plaintext, aad []byte) ([]byte, string, error) {
	k.calls.Add(1)
	return k.inner.Wrap(ctx, plaintext, aad)
}

func (k *countingKEK) Unwrap(ctx context.Context, wrapped, aad []byte) ([]byte, error) {
	k.calls.Add(1)
	return k.inner.Unwrap(ctx, wrapped, aad)
}

// Calls returns how many calls were made so far.
func (k *countingKEK) Calls() int64 { return k.calls.Load() }

// probeAAD is the associated data of the probe wrap: no data key has it.
var probeAAD = []byte("gatehouse/kek-probe/v1")

// currentVersion returns the KEK version new wraps use: from the KEK itself
// when it knows (the local key file), else by wrapping 32 random bytes that
// are thrown away (one KMS call; KMS encrypts with the primary version and
// names it).
func (k *countingKEK) currentVersion(ctx context.Context, rnd io.Reader) (string, error) {
	if v, ok := k.inner.(interface{ Version() string }); ok {
		return v.Version(), nil
	}
	probe := make([]byte, 32)
	if _, err := io.ReadFull(rnd, probe); err != nil {
		return "", fmt.Errorf("read probe: %w", err)
	}
	_, version, err := k.Wrap(ctx, probe, probeAAD)
	if err != nil {
		return "", fmt.Errorf("probe KEK version: %w", envelope.Unavailable(err))
	}
	return version, nil
}
