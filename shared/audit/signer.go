package audit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/gatehouse-dev/gatehouse/shared/envelope"
	"github.com/gatehouse-dev/gatehouse/shared/store"
)

// signingKeyID names the checkpoint-signing key in audit_signing_keys.
const signingKeyID = "audit-checkpoint-ed25519"

// Signer signs checkpoints with the log's Ed25519 note key. The private
// key is stored only sealed by the envelope under its own purpose
// ([envelope.PurposeAuditCheckpoint]), so database access alone can
// neither read it nor forge a checkpoint; it is opened for each signature
// and cleared after.
type Signer struct {
	store   store.AuditLog
	keyring *envelope.Keyring
	origin  string
	rand    io.Reader
	now     func() time.Time
}

// NewSigner returns a signer for the log named origin (for example
// "gatehouse.example.com/audit"): the name of the key it creates on first
// use, and the first line of every checkpoint. An existing key keeps the
// name it was created with.
func NewSigner(s store.AuditLog, kr *envelope.Keyring, origin string, rnd io.Reader, now func() time.Time) *Signer {
	return &Signer{store: s, keyring: kr, origin: origin, rand: rnd, now: now}
}

// Origin returns a log origin for a deployment's public URL host.
func Origin(host string) string {
	host = strings.Map(func(r rune) rune {
		if r == '+' || r <= ' ' {
			return -1
		}
		return r
	}, host)
	if host == "" {
		host = "gatehouse"
	}
	return host + "/audit"
}

func signingBinding() envelope.Binding {
	return envelope.Binding{Record: signingKeyID, Field: "audit_signing_keys.private_key"}
}

// PublicKey returns the log's note verifier key ("name+hash+base64"),
// creating the key pair on first use (a concurrent creator's key wins).
func (s *Signer) PublicKey(ctx context.Context) (string, error) {
	k, err := s.key(ctx)
	return k.PublicKey, err
}

func (s *Signer) key(ctx context.Context) (store.AuditSigningKey, error) {
	k, err := s.store.AuditSigningKey(ctx, signingKeyID)
	if errors.Is(err, store.ErrNotFound) {
		if err := s.create(ctx); err != nil && !errors.Is(err, store.ErrConflict) {
			return k, err
		}
		k, err = s.store.AuditSigningKey(ctx, signingKeyID)
	}
	if err != nil {
		return k, fmt.Errorf("read audit signing key: %w", err)
	}
	return k, nil
}

func (s *Signer) create(ctx context.Context) error {
	skey, vkey, err := note.GenerateKey(s.rand, s.origin)
	if err != nil {
		return fmt.Errorf("generate audit signing key: %w", err)
	}
	sealed, err := s.keyring.Seal(ctx, envelope.PurposeAuditCheckpoint, signingBinding(), []byte(skey))
	if err != nil {
		return fmt.Errorf("seal audit signing key: %w", err)
	}
	kid, err := envelope.KeyID(sealed)
	if err != nil {
		return err
	}
	return s.store.CreateAuditSigningKey(ctx, store.AuditSigningKey{ID: signingKeyID, Sealed: sealed, KeyID: kid,
		PublicKey: vkey, CreatedAt: s.now().UTC().Truncate(time.Microsecond)})
}

// Sign returns text signed as a note by the log's key, and the key's
// public verifier key.
func (s *Signer) Sign(ctx context.Context, text string) (signed []byte, publicKey string, err error) {
	k, err := s.key(ctx)
	if err != nil {
		return nil, "", err
	}
	signed, err = s.sign(ctx, k, text)
	return signed, k.PublicKey, err
}

// sign signs text with k. It writes nothing to the store, so it may run
// inside a transaction.
func (s *Signer) sign(ctx context.Context, k store.AuditSigningKey, text string) ([]byte, error) {
	skey, err := s.keyring.Open(ctx, envelope.PurposeAuditCheckpoint, signingBinding(), k.Sealed)
	if err != nil {
		return nil, fmt.Errorf("open audit signing key: %w", err)
	}
	defer clear(skey)
	signer, err := note.NewSigner(string(skey))
	if err != nil {
		return nil, fmt.Errorf("audit signing key: %w", err)
	}
	signed, err := note.Sign(&note.Note{Text: text}, signer)
	if err != nil {
		return nil, fmt.Errorf("sign checkpoint: %w", err)
	}
	return signed, nil
}

// keyName returns the name of k, which is the log's checkpoints' origin.
func keyName(k store.AuditSigningKey) (string, error) {
	v, err := note.NewVerifier(k.PublicKey)
	if err != nil {
		return "", fmt.Errorf("audit public key: %w", err)
	}
	return v.Name(), nil
}
