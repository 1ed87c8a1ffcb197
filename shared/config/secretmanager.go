package config

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"regexp"
	"strings"

	secretmanager "cloud.google.com/go/secretmanager/apiv1"
	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"google.golang.org/api/option"
)

// SecretRefPrefix marks a variable value as a Secret Manager reference.
const SecretRefPrefix = "sm://"

var (
	// ErrBadReference reports a value that starts with "sm://" but is not
	// sm://projects/P/secrets/S/versions/V.
	ErrBadReference = errors.New("malformed Secret Manager reference")
	// ErrChecksum reports a secret payload whose CRC32C does not match the
	// checksum Secret Manager sent with it.
	ErrChecksum = errors.New("secret payload checksum mismatch")
)

// SecretSource reads secret versions. name is a full resource name,
// projects/P/secrets/S/versions/V. Implementations return an error, never an
// empty payload, when the version cannot be read.
type SecretSource interface {
	Access(ctx context.Context, name string) ([]byte, error)
}

// SecretRef is a parsed sm:// reference.
type SecretRef struct {
	Project string // project ID, domain-scoped project ID or project number
	Secret  string // secret ID
	Version string // "latest" or a version number
}

// Name returns the Secret Manager resource name of the version.
func (r SecretRef) Name() string {
	return "projects/" + r.Project + "/secrets/" + r.Secret + "/versions/" + r.Version
}

var (
	projectRE = regexp.MustCompile(`^(?:[a-z][a-z0-9.-]{0,62}:)?[a-z][a-z0-9-]{4,28}[a-z0-9]$|^[0-9]{1,20}$`)
	secretRE  = regexp.MustCompile(`^[A-Za-z0-9_-]{1,255}$`)
	versionRE = regexp.MustCompile(`^(?:latest|[1-9][0-9]{0,18})$`)
)

// ParseSecretRef parses a value of the form
// sm://projects/P/secrets/S/versions/V, where V is "latest" or a version
// number. Any other input returns an error wrapping [ErrBadReference]; the
// error does not repeat the input.
func ParseSecretRef(value string) (SecretRef, error) {
	rest, ok := strings.CutPrefix(value, SecretRefPrefix)
	if !ok {
		return SecretRef{}, fmt.Errorf("%w: want %sprojects/P/secrets/S/versions/V", ErrBadReference, SecretRefPrefix)
	}
	parts := strings.Split(rest, "/")
	if len(parts) != 6 || parts[0] != "projects" || parts[2] != "secrets" || parts[4] != "versions" {
		return SecretRef{}, fmt.Errorf("%w: want %sprojects/P/secrets/S/versions/V", ErrBadReference, SecretRefPrefix)
	}
	ref := SecretRef{Project: parts[1], Secret: parts[3], Version: parts[5]}
	switch {
	case !projectRE.MatchString(ref.Project):
		return SecretRef{}, fmt.Errorf("%w: invalid project", ErrBadReference)
	case !secretRE.MatchString(ref.Secret):
		return SecretRef{}, fmt.Errorf("%w: invalid secret id", ErrBadReference)
	case !versionRE.MatchString(ref.Version):
		return SecretRef{}, fmt.Errorf("%w: version must be \"latest\" or a number", ErrBadReference)
	}
	return ref, nil
}

// SecretManager is a [SecretSource] backed by Google Cloud Secret Manager.
type SecretManager struct {
	client *secretmanager.Client
}

var _ SecretSource = (*SecretManager)(nil)

// NewSecretManager connects to Secret Manager with Application Default
// Credentials unless opts say otherwise. The caller must Close it.
func NewSecretManager(ctx context.Context, opts ...option.ClientOption) (*SecretManager, error) {
	c, err := secretmanager.NewClient(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("create secret manager client: %w", err)
	}
	return &SecretManager{client: c}, nil
}

// Access reads the secret version name and returns its payload. It returns
// an error if the call fails (the gRPC status is kept in the chain, so
// status.Code works on it), if the payload is missing, or, wrapping
// [ErrChecksum], if the payload does not match its CRC32C checksum.
func (s *SecretManager) Access(ctx context.Context, name string) ([]byte, error) {
	resp, err := s.client.AccessSecretVersion(ctx, &secretmanagerpb.AccessSecretVersionRequest{Name: name})
	if err != nil {
		return nil, fmt.Errorf("access secret version %s: %w", name, err)
	}
	p := resp.GetPayload()
	if p == nil {
		return nil, fmt.Errorf("access secret version %s: response has no payload", name)
	}
	if p.DataCrc32C != nil {
		sum := int64(crc32.Checksum(p.GetData(), crc32.MakeTable(crc32.Castagnoli)))
		if sum != p.GetDataCrc32C() {
			return nil, fmt.Errorf("access secret version %s: %w", name, ErrChecksum)
		}
	}
	return p.GetData(), nil
}

// Close releases the client's connection.
func (s *SecretManager) Close() error {
	if err := s.client.Close(); err != nil {
		return fmt.Errorf("close secret manager client: %w", err)
	}
	return nil
}
