package storetest

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/shared/store"
	"github.com/gatehouse-dev/gatehouse/shared/store/sqlstore"
)

// The generic sealed-value access runs here on the one sealed column the
// foundation of the rotate function owns; the store does not parse
// ciphertexts, so any bytes do.
var secretsColumn = store.SealedColumn{Table: "rotation_secrets", Column: "secret", Purpose: "credential"}

func testSealedValues(t *testing.T, open Opener) {
	s, ctx := open(t), context.Background()
	for i := range 5 {
		key := "dk1"
		if i%2 == 1 {
			key = "dk2"
		}
		if err := s.CreateRotationSecret(ctx, store.RotationSecret{ID: fmt.Sprintf("s%d", i),
			Sealed: []byte(fmt.Sprintf("ct%d", i)), KeyID: key, CreatedAt: epoch}); err != nil {
			t.Fatal(err)
		}
	}
	counts, err := s.SealedKeyCounts(ctx, []store.SealedColumn{secretsColumn})
	if err != nil || len(counts) != 2 || counts["dk1"] != 3 || counts["dk2"] != 2 {
		t.Fatalf("SealedKeyCounts = %v, %v; want dk1:3 dk2:2", counts, err)
	}
	for _, tc := range []struct {
		name, key, after string
		limit            int
		want             []string
	}{
		{"one key", "dk1", "", 10, []string{"s0", "s2", "s4"}},
		{"page", "dk1", "", 2, []string{"s0", "s2"}},
		{"next page", "dk1", "s2", 2, []string{"s4"}},
		{"every key", "", "s1", 10, []string{"s2", "s3", "s4"}},
		{"unknown key", "dk9", "", 10, nil},
	} {
		vs, err := s.SealedValues(ctx, secretsColumn, tc.key, tc.after, tc.limit)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var ids []string
		for _, v := range vs {
			ids = append(ids, v.ID)
			if v.Org != "" || string(v.Ciphertext) != "ct"+v.ID[1:] || (tc.key != "" && v.KeyID != tc.key) {
				t.Fatalf("%s: value %+v", tc.name, v)
			}
		}
		if fmt.Sprint(ids) != fmt.Sprint(tc.want) {
			t.Fatalf("%s: ids = %v, want %v", tc.name, ids, tc.want)
		}
	}
	n, err := s.ReplaceSealed(ctx, secretsColumn, []store.SealedReplacement{
		{ID: "s0", Old: []byte("ct0"), New: []byte("new0"), NewKeyID: "dk3"},
		{ID: "s2", Old: []byte("stale"), New: []byte("new2"), NewKeyID: "dk3"}, // changed meanwhile
		{ID: "gone", Old: []byte("x"), New: []byte("y"), NewKeyID: "dk3"},      // deleted meanwhile
	})
	if err != nil || n != 1 {
		t.Fatalf("ReplaceSealed = %d, %v; want 1 applied", n, err)
	}
	if got, _ := s.RotationSecret(ctx, "s0"); string(got.Sealed) != "new0" || got.KeyID != "dk3" {
		t.Fatalf("s0 after replace = %+v", got)
	}
	if got, _ := s.RotationSecret(ctx, "s2"); string(got.Sealed) != "ct2" || got.KeyID != "dk1" {
		t.Fatalf("s2 replaced although it did not hold the expected value: %+v", got)
	}
	counts, _ = s.SealedKeyCounts(ctx, []store.SealedColumn{secretsColumn})
	if counts["dk1"] != 2 || counts["dk3"] != 1 {
		t.Fatalf("counts after replace = %v", counts)
	}
}

// Column names are written into SQL text: anything but a plain identifier
// and a known purpose is refused before any SQL runs (APP-2).
func testSealedColumnChecked(t *testing.T, open Opener) {
	s, ctx := open(t), context.Background()
	for _, c := range []store.SealedColumn{
		{Table: "rotation_secrets; DROP TABLE data_keys", Column: "secret", Purpose: "credential"},
		{Table: "rotation_secrets", Column: "secret", Purpose: "credential", OrgColumn: "org id"},
		{Table: "rotation_secrets", Column: "Secret", Purpose: "credential"},
		{Table: "rotation_secrets", Column: "secret", Purpose: "bogus"},
		{Table: "", Column: "secret", Purpose: "credential"},
	} {
		if _, err := s.SealedValues(ctx, c, "", "", 1); err == nil {
			t.Errorf("SealedValues accepted %+v", c)
		}
		if _, err := s.ReplaceSealed(ctx, c, nil); err == nil {
			t.Errorf("ReplaceSealed accepted %+v", c)
		}
		if _, err := s.SealedKeyCounts(ctx, []store.SealedColumn{secretsColumn, c}); err == nil {
			t.Errorf("SealedKeyCounts accepted %+v", c)
		}
	}
	if _, err := s.ListDataKeys(ctx); err != nil {
		t.Fatalf("store unusable after refused columns: %v", err)
	}
}

// Every registered column is a valid entry and exists in the schema with
// its key-id companion and, if named, its organization column.
func testSealedRegistry(t *testing.T, open Opener) {
	s, ctx := open(t), context.Background()
	seen := map[string]bool{}
	for _, c := range store.SealedColumns() {
		if !c.Valid() {
			t.Errorf("registry entry %+v is not valid", c)
			continue
		}
		if seen[c.Field()] {
			t.Errorf("registry lists %s twice", c.Field())
		}
		seen[c.Field()] = true
		if _, err := s.SealedValues(ctx, c, "", "", 1); err != nil {
			t.Errorf("registry entry %s: %v", c.Field(), err)
		}
		if _, err := s.SealedValues(ctx, c, "dk", "", 1); err != nil {
			t.Errorf("registry entry %s by key: %v", c.Field(), err)
		}
	}
	if _, err := s.SealedKeyCounts(ctx, store.SealedColumns()); err != nil {
		t.Fatalf("count over the registry: %v", err)
	}
	// And the registry is complete: every column the convention marks as
	// sealed (a companion "<column>_key_id") is in it, so key rotation
	// re-encrypts every ciphertext in the schema.
	conn := s.(interface{ Conn() sqlstore.Conn }).Conn()
	rows, err := conn.Query(ctx, `SELECT table_name, column_name FROM information_schema.columns
		WHERE table_schema = current_schema() AND column_name LIKE '%\_key\_id' ESCAPE '\'`)
	if err != nil {
		// SQLite has no information_schema.
		rows, err = conn.Query(ctx, `SELECT m.name, p.name FROM sqlite_master m, pragma_table_info(m.name) p
			WHERE m.type = 'table' AND p.name LIKE '%\_key\_id' ESCAPE '\'`)
	}
	if err != nil {
		t.Fatalf("list key-id columns: %v", err)
	}
	found := 0
	for rows.Next() {
		var table, column string
		if err := rows.Scan(&table, &column); err != nil {
			t.Fatal(err)
		}
		found++
		field := table + "." + strings.TrimSuffix(column, "_key_id")
		if !seen[field] {
			t.Errorf("%s.%s marks %s as sealed, but store.SealedColumns does not list it: rotation would never re-encrypt it", table, column, field)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if found != len(seen) {
		t.Errorf("%d key-id columns in the schema, %d registry entries", found, len(seen))
	}
}
