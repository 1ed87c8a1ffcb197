package rotate

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sync/atomic"

	kms "cloud.google.com/go/kms/apiv1"

	"github.com/gatehouse-dev/gatehouse/shared/bootstrap"
	"github.com/gatehouse-dev/gatehouse/shared/envelope"
	"github.com/gatehouse-dev/gatehouse/shared/envelope/filekek"
	"github.com/gatehouse-dev/gatehouse/shared/envelope/kmskek"
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

// openKEK opens the key-encryption key d's configuration names, as
// bootstrap does for d.Keyring: Cloud KMS when a key is configured, the
// local key file otherwise (development only). The closer, if not nil,
// releases the KMS client.
func openKEK(d *bootstrap.Deps) (envelope.KEK, func(), error) {
	if d.Config.KMSKey == "" {
		if d.Config.Env.Deployed() {
			return nil, nil, errors.New("a Cloud KMS key is required outside dev")
		}
		rnd := d.Rand
		if rnd == nil {
			rnd = rand.Reader
		}
		kek, err := filekek.Load(filepath.Join(d.Config.DataDir, "kek.key"), rnd)
		return kek, nil, err
	}
	client, err := kms.NewKeyManagementClient(context.Background())
	if err != nil {
		return nil, nil, fmt.Errorf("Cloud KMS client: %w", err)
	}
	kek, err := kmskek.New(client, d.Config.KMSKey)
	if err != nil {
		client.Close()
		return nil, nil, err
	}
	return kek, func() { client.Close() }, nil
}
