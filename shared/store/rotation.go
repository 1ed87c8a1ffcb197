package store

import (
	"context"
	"time"
)

// Lease is a named, expiring claim that keeps a job to one run at a time
// across instances. A holder that crashes loses it when it expires.
type Lease struct {
	Name    string
	Holder  string // random id of the instance and run holding it
	RunID   string // the run it is held for, e.g. a Pub/Sub message id
	Expires time.Time
}

// RotationRun is one run of the rotate function, keyed by the id of the
// message that asked for it, so a redelivered message resumes or is
// recognized as done.
type RotationRun struct {
	ID         string
	StartedAt  time.Time
	FinishedAt time.Time // zero while unfinished
	Report     string    // JSON progress report, rewritten after every task
}

// AuditRetention asks the store to delete the oldest audit events: every
// event with Seq <= Seq, all of them older than Cutoff. Seq and Hash name
// the last deleted event and become the new checkpoint, stamped At and
// carrying Signature (made by the caller over Seq, Hash and At).
type AuditRetention struct {
	Cutoff    time.Time
	Seq       int64
	Hash      [32]byte
	At        time.Time
	Signature []byte
}

// SignedAuditCheckpoint is the retention checkpoint with the signature the
// retention job stored with it (nil for none).
type SignedAuditCheckpoint struct {
	AuditCheckpoint
	Signature []byte
}

// RotationSecret is a secret of the rotate function itself, stored sealed
// (column rotation_secrets.secret, see [SealedColumns]).
type RotationSecret struct {
	ID        string
	Sealed    []byte
	KeyID     string // envelope.KeyID(Sealed)
	CreatedAt time.Time
}

// Rotation stores what the rotate function coordinates with: its lease, its
// runs, small named state values, its own sealed secrets and the audit
// retention path.
type Rotation interface {
	// AcquireLease takes lease l.Name for l.Holder and l.RunID until
	// l.Expires, if it is free, expired at now, or already held by
	// l.Holder. Otherwise it returns the current lease and ErrConflict. Of
	// concurrent callers for a free lease exactly one succeeds.
	AcquireLease(ctx context.Context, l Lease, now time.Time) (Lease, error)
	// RenewLease moves the expiry of the lease holder holds to expires.
	// Returns ErrConflict if holder does not hold it at now (it expired
	// and someone else took it, or it was released).
	RenewLease(ctx context.Context, name, holder string, expires, now time.Time) error
	// ReleaseLease frees the lease if holder holds it; otherwise it does
	// nothing.
	ReleaseLease(ctx context.Context, name, holder string) error

	// BeginRotationRun records run r unless a run with r.ID exists, and
	// returns the stored run either way: the caller resumes an unfinished
	// run and skips a finished one.
	BeginRotationRun(ctx context.Context, r RotationRun) (RotationRun, error)
	// SaveRotationRun replaces the report of run id and, unless finished is
	// zero, marks the run finished. Returns ErrNotFound for an unknown id.
	SaveRotationRun(ctx context.Context, id, report string, finished time.Time) error
	// RotationRuns returns up to limit runs, newest first.
	RotationRuns(ctx context.Context, limit int) ([]RotationRun, error)

	// RotationState returns the value and update time of a named state
	// value, or ErrNotFound.
	RotationState(ctx context.Context, name string) (string, time.Time, error)
	// SetRotationState creates or replaces a named state value.
	SetRotationState(ctx context.Context, name, value string, now time.Time) error

	// RotationSecret returns the sealed secret id, or ErrNotFound.
	RotationSecret(ctx context.Context, id string) (RotationSecret, error)
	// CreateRotationSecret stores s. Returns ErrConflict if s.ID exists.
	CreateRotationSecret(ctx context.Context, s RotationSecret) error

	// AuditRetentionPoint returns the newest event such that it and every
	// event before it are older than cutoff, considering at most limit
	// events past the checkpoint, or ErrNotFound if there is none.
	AuditRetentionPoint(ctx context.Context, cutoff time.Time, limit int) (seq int64, hash [32]byte, err error)
	// ApplyAuditRetention writes r's checkpoint and deletes every event up
	// to r.Seq, in one transaction, and returns how many it deleted. The
	// database itself refuses (with an error) a cutoff less than 12 months
	// before its own clock, a Seq/Hash that does not name a stored event,
	// and a Seq with an event not older than the cutoff at or before it.
	ApplyAuditRetention(ctx context.Context, r AuditRetention) (int64, error)
	// SignedAuditCheckpoint returns the checkpoint and its signature; a
	// zero value if no event was ever deleted.
	SignedAuditCheckpoint(ctx context.Context) (SignedAuditCheckpoint, error)

	// RevokeSessionsBefore revokes, at now with reason, every unrevoked
	// session created before before: all of them, or when orgID is not
	// empty those of the organization's members. It returns how many it
	// revoked (the response to a suspected key exposure).
	RevokeSessionsBefore(ctx context.Context, orgID string, before, now time.Time, reason string) (int64, error)
	// PurgeWebhookEventsBefore deletes the claimed webhook events (the
	// billing records, AUDIT-3: kept 7 years) received before before, and
	// returns how many it deleted.
	PurgeWebhookEventsBefore(ctx context.Context, before time.Time) (int64, error)
	// PurgeBillingAccountsBefore deletes the billing accounts no event has
	// changed since before (billing metadata, AUDIT-3: kept 7 years after
	// its last change) and returns how many it deleted.
	PurgeBillingAccountsBefore(ctx context.Context, before time.Time) (int64, error)
}
