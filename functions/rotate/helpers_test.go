package rotate

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse-dev/gatehouse/shared/bootstrap"
	"github.com/gatehouse-dev/gatehouse/shared/bootstrap/bootstraptest"
	"github.com/gatehouse-dev/gatehouse/shared/config"
	"github.com/gatehouse-dev/gatehouse/shared/envelope"
	"github.com/gatehouse-dev/gatehouse/shared/store"
	"github.com/gatehouse-dev/gatehouse/shared/store/postgres/pgtest"
	"github.com/gatehouse-dev/gatehouse/shared/store/sqlite"
)

// testKEK is a key-encryption key in memory with several versions, like
// Cloud KMS: it wraps under the newest, unwraps under any, and counts calls.
// It does not say its version, so the rewrap task probes for it as it does
// with KMS.
type testKEK struct {
	mu       sync.Mutex
	versions []cipher.AEAD
	wraps    int
	unwraps  int
	fail     error // returned by every call while set
}

func newTestKEK(t testing.TB) *testKEK {
	k := &testKEK{}
	k.addVersion(t)
	return k
}

func (k *testKEK) addVersion(t testing.TB) {
	key := make([]byte, 32)
	rand.Read(key)
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	gcm, _ := cipher.NewGCM(block)
	k.mu.Lock()
	defer k.mu.Unlock()
	k.versions = append(k.versions, gcm)
}

func (k *testKEK) Wrap(_ context.Context, pt, aad []byte) ([]byte, string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.wraps++
	if k.fail != nil {
		return nil, "", k.fail
	}
	v := len(k.versions)
	nonce := make([]byte, 12)
	rand.Read(nonce)
	out := append([]byte{byte(v)}, nonce...)
	return k.versions[v-1].Seal(out, nonce, pt, aad), fmt.Sprintf("v%d", v), nil
}

func (k *testKEK) Unwrap(_ context.Context, w, aad []byte) ([]byte, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.unwraps++
	if k.fail != nil {
		return nil, k.fail
	}
	if len(w) < 13 || int(w[0]) < 1 || int(w[0]) > len(k.versions) {
		return nil, envelope.ErrDecrypt
	}
	pt, err := k.versions[w[0]-1].Open(nil, w[1:13], w[13:], aad)
	if err != nil {
		return nil, envelope.ErrDecrypt
	}
	return pt, nil
}

func (k *testKEK) calls() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.wraps + k.unwraps
}

func (k *testKEK) setFail(err error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.fail = err
}

// testColumn is a sealed column of a table only tests create, with an
// organization column, so the machinery is proven on a column it was not
// written for.
var testColumn = store.SealedColumn{Table: "rt_sealed", Column: "secret", Purpose: "credential", OrgColumn: "org_id"}

// fixture is one test's database, Deps, KEK and application keyring.
type fixture struct {
	*bootstraptest.Env
	name    string
	kek     *testKEK
	app     *envelope.Keyring // seals values as the application would
	cols    []store.SealedColumn
	insert  func(t testing.TB, rows [][]any)          // id, org_id, secret, secret_key_id
	owner   func(t testing.TB, q string, args ...any) // runs q (at most one argument, as ?) with rights the application lacks
	plain   map[string]string                         // what each test row holds
	backend string
}

var backends = []string{"sqlite", "postgres"}

// newFixture opens a store on backend with the test table, Deps on it and
// an application keyring over a fresh test KEK.
func newFixture(t testing.TB, backend string) *fixture {
	t.Helper()
	f := &fixture{backend: backend, kek: newTestKEK(t), plain: map[string]string{}}
	var s store.Store
	switch backend {
	case "sqlite":
		db := bootstraptest.SQLite(t).(*sqlite.DB)
		mustExec(t, db.SQL().ExecContext, `CREATE TABLE rt_sealed (id TEXT PRIMARY KEY, org_id TEXT NOT NULL,
			secret BLOB, secret_key_id TEXT) STRICT`)
		mustExec(t, db.SQL().ExecContext, `CREATE INDEX rt_sealed_key ON rt_sealed (secret_key_id, id)`)
		f.owner = func(t testing.TB, q string, args ...any) {
			t.Helper()
			if _, err := db.SQL().Exec(q, args...); err != nil {
				t.Fatal(err)
			}
		}
		f.insert = func(t testing.TB, rows [][]any) {
			tx, err := db.SQL().Begin()
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range rows {
				if _, err := tx.Exec(`INSERT INTO rt_sealed VALUES (?, ?, ?, ?)`, r...); err != nil {
					t.Fatal(err)
				}
			}
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
		}
		s = db
	case "postgres":
		db := pgtest.New(t)
		ctx := context.Background()
		for _, q := range []string{
			`CREATE TABLE rt_sealed (id TEXT PRIMARY KEY, org_id TEXT NOT NULL, secret BYTEA, secret_key_id TEXT)`,
			`CREATE INDEX rt_sealed_key ON rt_sealed (secret_key_id, id)`,
			`GRANT SELECT, INSERT, UPDATE, DELETE ON rt_sealed TO ` + pgtest.AppRole,
		} {
			if _, err := db.Owner.Exec(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
		f.owner = func(t testing.TB, q string, args ...any) {
			t.Helper()
			if _, err := db.Owner.Exec(ctx, strings.ReplaceAll(q, "?", "$1"), args...); err != nil {
				t.Fatal(err)
			}
		}
		f.insert = func(t testing.TB, rows [][]any) {
			_, err := db.Owner.CopyFrom(ctx, pgx.Identifier{"rt_sealed"}, []string{"id", "org_id", "secret", "secret_key_id"}, pgx.CopyFromRows(rows))
			if err != nil {
				t.Fatal(err)
			}
		}
		s = db.Store
	default:
		t.Fatalf("unknown backend %s", backend)
	}
	f.Env = bootstraptest.New(t, s)
	app, err := envelope.New(s, f.kek, envelope.Options{Now: f.Clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	f.app, f.Keyring = app, app
	// The audit checkpoint key is sealed like every other secret: by the
	// application keyring over the test KEK.
	f.Audit, f.Sequencer = bootstrap.NewAudit(f.Config, s, app, f.Logger, f.Now, f.Rand)
	f.cols = append(store.SealedColumns(), testColumn)
	return f
}

func mustExec[R any](t testing.TB, exec func(context.Context, string, ...any) (R, error), q string) {
	t.Helper()
	if _, err := exec(context.Background(), q); err != nil {
		t.Fatal(err)
	}
}

// testConfig is the production configuration with small batches and a
// data-key period of an hour.
func testConfig() Config {
	l := config.NewLoader(context.Background(), func(string) (string, bool) { return "", false }, nil)
	c := LoadConfig(l)
	c.BatchSize = 50
	c.DataKeyPeriod = time.Hour
	return c
}

// rotator returns a Rotator on f with its own view of the test KEK.
func (f *fixture) rotator(t testing.TB, cfg Config, opts ...Option) *Rotator {
	t.Helper()
	opts = append([]Option{WithKEK(f.kek), WithSealedColumns(f.cols), WithOutbox()}, opts...)
	r, err := New(f.Deps, cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	// Waiting is moving the test clock.
	r.sleep = func(_ context.Context, d time.Duration) error { f.Clock.Advance(d); return nil }
	t.Cleanup(r.Close)
	return r
}

// seal stores n new test rows sealed under the application keyring's
// current primary key, ids prefix-0000.. .
func (f *fixture) seal(t testing.TB, prefix string, n int) {
	t.Helper()
	ctx := context.Background()
	rows := make([][]any, 0, n)
	for i := range n {
		id := fmt.Sprintf("%s-%05d", prefix, i)
		org := fmt.Sprintf("org-%d", i%7)
		pt := "secret value " + id
		ct, err := f.app.Seal(ctx, envelope.PurposeCredential, envelope.Binding{Org: org, Record: id, Field: testColumn.Field()}, []byte(pt))
		if err != nil {
			t.Fatal(err)
		}
		kid, _ := envelope.KeyID(ct)
		rows = append(rows, []any{id, org, ct, kid})
		f.plain[id] = pt
		if i < 3 {
			f.Logs.Plant(pt) // the test fails if a plaintext is ever logged
		}
	}
	f.insert(t, rows)
}

// sealAcrossKeys stores n rows spread over k data keys, rotating the
// application keyring between groups; it returns the key ids.
func (f *fixture) sealAcrossKeys(t testing.TB, n, k int) []string {
	t.Helper()
	ctx := context.Background()
	var ids []string
	for g := range k {
		if g > 0 {
			f.Clock.Advance(time.Hour)
			if _, err := f.app.Rotate(ctx); err != nil {
				t.Fatal(err)
			}
		}
		per := n / k
		if g == k-1 {
			per = n - per*(k-1)
		}
		f.seal(t, fmt.Sprintf("k%d", g), per)
		p, err := f.Store.PrimaryDataKey(ctx)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, p.ID)
	}
	return ids
}

// checkAll asserts that every test row opens, with a keyring that has
// never seen a key, to what was sealed, under the primary key, with its
// key-id column in step; and that no row was lost.
func (f *fixture) checkAll(t testing.TB) {
	t.Helper()
	ctx := context.Background()
	fresh, err := envelope.New(f.Store, f.kek, envelope.Options{Now: f.Clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	primary, err := f.Store.PrimaryDataKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	seen, after := 0, ""
	for {
		vs, err := f.Store.SealedValues(ctx, testColumn, "", after, 1000)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range vs {
			pt, err := fresh.Open(ctx, envelope.PurposeCredential, envelope.Binding{Org: v.Org, Record: v.ID, Field: testColumn.Field()}, v.Ciphertext)
			if err != nil || string(pt) != f.plain[v.ID] {
				t.Fatalf("row %s does not open to its value: %v", v.ID, err)
			}
			if kid, _ := envelope.KeyID(v.Ciphertext); kid != primary.ID || v.KeyID != primary.ID {
				t.Fatalf("row %s: header key %s, column key %s; want primary %s", v.ID, kid, v.KeyID, primary.ID)
			}
			seen++
		}
		if len(vs) < 1000 {
			break
		}
		after = vs[len(vs)-1].ID
	}
	if seen != len(f.plain) {
		t.Fatalf("%d rows, want %d", seen, len(f.plain))
	}
}

// keyStates returns the state of every data key.
func (f *fixture) keyStates(t testing.TB) map[string]store.DataKeyState {
	t.Helper()
	keys, err := f.Store.ListDataKeys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]store.DataKeyState{}
	for _, k := range keys {
		out[k.ID] = k.State
	}
	return out
}

// schedule and exposure build messages.
func schedule(tasks ...string) Message { return Message{Tasks: tasks, Reason: ReasonSchedule} }
func exposure(tasks ...string) Message { return Message{Tasks: tasks, Reason: ReasonExposure} }

var errInjected = errors.New("injected failure")
