package store

import "context"

// SealedColumn names a column of envelope ciphertexts, so key rotation can
// find and re-encrypt every sealed value without knowing its domain.
//
// The table has a TEXT primary key "id"; Column holds the ciphertext and
// Column+"_key_id" holds the id of the data key that sealed it (kept in
// sync on every write, and indexed). Each value is sealed with the binding
// {Org: the OrgColumn value ("" when OrgColumn is ""), Record: id,
// Field: Table+"."+Column} and the envelope purpose named by Purpose.
type SealedColumn struct {
	Table     string
	Column    string
	Purpose   string // envelope purpose: "credential", "totp", "oauth-state", "signing-key", "audit-checkpoint"
	OrgColumn string // "org_id", or "" when the table is not tenant-scoped
}

// Field returns the binding's field name for values of c.
func (c SealedColumn) Field() string { return c.Table + "." + c.Column }

// SealedColumns lists every sealed column in the schema. A domain that adds
// one adds it here in the same change as its migration.
func SealedColumns() []SealedColumn {
	return []SealedColumn{
		{Table: "connections", Column: "access_token", Purpose: "credential", OrgColumn: "org_id"},
		{Table: "connections", Column: "refresh_token", Purpose: "credential", OrgColumn: "org_id"},
		{Table: "sso_configs", Column: "client_secret", Purpose: "credential", OrgColumn: "org_id"},
		{Table: "totp_secrets", Column: "secret", Purpose: "totp"},
		{Table: "sessions", Column: "refresh_key", Purpose: "signing-key"},
		{Table: "signing_keys", Column: "private_key", Purpose: "signing-key"},
		{Table: "rotation_secrets", Column: "secret", Purpose: "credential"},
		{Table: "audit_signing_keys", Column: "private_key", Purpose: "audit-checkpoint"},
	}
}

// Valid reports whether c names its table and columns with plain lower-case
// SQL identifiers (they are written into SQL text, never taken from input)
// and a known purpose.
func (c SealedColumn) Valid() bool {
	switch c.Purpose {
	case "credential", "totp", "oauth-state", "signing-key", "audit-checkpoint":
	default:
		return false
	}
	return identifier(c.Table) && identifier(c.Column) && (c.OrgColumn == "" || identifier(c.OrgColumn))
}

func identifier(s string) bool {
	if s == "" || len(s) > 55 || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	for i := range len(s) {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// SealedValue is one stored ciphertext of a sealed column.
type SealedValue struct {
	ID         string // the row's id
	Org        string // the row's OrgColumn value, "" when there is none
	KeyID      string // the Column+"_key_id" value
	Ciphertext []byte
}

// SealedReplacement swaps one ciphertext for another: Old is what the row
// must still hold, New and NewKeyID what it gets.
type SealedReplacement struct {
	ID       string
	Old      []byte
	New      []byte
	NewKeyID string
}

// SealedValues is the generic access key rotation needs to every sealed
// column, whatever its domain; the columns are a parameter so that tests
// can pass their own. Each method returns an error, and touches nothing,
// if a column is not [SealedColumn.Valid].
type SealedValues interface {
	// SealedValues returns up to limit non-NULL values of column c with
	// id > after, in id order; only those whose key id is keyID unless
	// keyID is "".
	SealedValues(ctx context.Context, c SealedColumn, keyID, after string, limit int) ([]SealedValue, error)
	// ReplaceSealed applies every replacement in one transaction, each
	// only if the row still holds r.Old (compare and swap), and returns how
	// many it applied: a row changed or deleted meanwhile is left alone.
	ReplaceSealed(ctx context.Context, c SealedColumn, rs []SealedReplacement) (int, error)
	// SealedKeyCounts returns, per data-key id, how many non-NULL values of
	// the columns name it in their key-id column.
	SealedKeyCounts(ctx context.Context, cols []SealedColumn) (map[string]int64, error)
}
