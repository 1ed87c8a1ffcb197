package rotate

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/envelope"
	"github.com/gatehouse-dev/gatehouse/shared/store"
)

// Re-encryption moves every value from old keys to a new primary, then
// destroys the old keys once no instance can seal under them; the tampered
// value is reported and keeps its key alive.
//
// Controls: CRED-8
func TestReencryptMovesEverythingAndDestroysOldKeys(t *testing.T) {
	for _, b := range backends {
		t.Run(b, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, b)
			old := f.sealAcrossKeys(t, 300, 3)
			f.Clock.Advance(31 * 24 * time.Hour)
			r := f.rotator(t, testConfig())
			rep, err := r.Run(context.Background(), Request{ID: "m1", Message: schedule(TaskDataKeys, TaskReencrypt)})
			if err != nil {
				t.Fatal(err)
			}
			if got := rep.Count(TaskDataKeys, "rotated"); got != 1 {
				t.Fatalf("data keys rotated = %d, want 1", got)
			}
			if got := rep.Count(TaskReencrypt, "resealed"); got != 300 {
				t.Fatalf("resealed = %d, want 300", got)
			}
			f.checkAll(t)
			// Demoted just now: instances may still seal under the old
			// primary for KeyPrimaryTTL, so it is not destroyed yet.
			if got := rep.Count(TaskReencrypt, "keys_destroy_pending"); got != 1 {
				t.Fatalf("keys pending destruction = %d, want 1 (the primary demoted in this run)", got)
			}
			f.Clock.Advance(14 * time.Minute)
			rep, err = r.Run(context.Background(), Request{ID: "m2", Message: schedule(TaskReencrypt)})
			if err != nil || rep.Count(TaskReencrypt, "keys_destroy_pending") != 1 {
				t.Fatalf("14 minutes after demotion: %v, %+v; want the key kept for in-flight state tokens", err, rep.Task(TaskReencrypt))
			}
			f.Clock.Advance(2 * time.Minute)
			rep, err = r.Run(context.Background(), Request{ID: "m3", Message: schedule(TaskReencrypt)})
			if err != nil {
				t.Fatal(err)
			}
			states := f.keyStates(t)
			for _, id := range old {
				if states[id] != store.DataKeyDestroyed {
					t.Fatalf("old key %s is %s, want destroyed", id, states[id])
				}
			}
			if rep.Count(TaskReencrypt, "resealed") != 0 {
				t.Fatal("second run re-encrypted again")
			}
			f.checkAll(t)
		})
	}
}

// A value that cannot be opened is counted as failed, logged without its
// content, and its key is kept: destroying it would lose data for good.
//
// Controls: CRED-8, APP-5
func TestReencryptKeepsKeyOfUnopenableValue(t *testing.T) {
	f := newFixture(t, "sqlite")
	f.seal(t, "a", 20)
	ctx := context.Background()
	vs, err := f.Store.SealedValues(ctx, testColumn, "", "", 1)
	if err != nil {
		t.Fatal(err)
	}
	bad := append([]byte(nil), vs[0].Ciphertext...)
	bad[len(bad)-1] ^= 1
	if n, err := f.Store.ReplaceSealed(ctx, testColumn, []store.SealedReplacement{{ID: vs[0].ID, Old: vs[0].Ciphertext, New: bad, NewKeyID: vs[0].KeyID}}); err != nil || n != 1 {
		t.Fatalf("tamper: %d, %v", n, err)
	}
	r := f.rotator(t, testConfig())
	if _, err := r.Run(ctx, Request{ID: "m1", Message: exposure(TaskDataKeys, TaskReencrypt)}); err != nil {
		t.Fatal(err)
	}
	rep, err := r.Run(ctx, Request{ID: "m2", Message: schedule(TaskReencrypt)})
	if err != nil {
		t.Fatal(err)
	}
	if got := rep.Count(TaskReencrypt, "failed"); got != 1 {
		t.Fatalf("failed = %d, want 1", got)
	}
	if got := rep.Count(TaskReencrypt, "keys_referenced"); got != 1 {
		t.Fatalf("keys kept because referenced = %d, want 1", got)
	}
	if states := f.keyStates(t); states[vs[0].KeyID] != store.DataKeyDecryptOnly {
		t.Fatalf("key of the unopenable value is %s, want decrypt-only", states[vs[0].KeyID])
	}
}

// The key-id column is an index; the ciphertext header is the truth. A
// value whose column names the primary but whose header names an old key
// keeps that key from being destroyed.
//
// Controls: CRED-8
func TestDestroyChecksCiphertextHeaders(t *testing.T) {
	f := newFixture(t, "sqlite")
	ctx := context.Background()
	f.seal(t, "a", 5)
	oldKey, _ := f.Store.PrimaryDataKey(ctx)
	if _, err := f.app.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	newKey, _ := f.Store.PrimaryDataKey(ctx)
	vs, _ := f.Store.SealedValues(ctx, testColumn, "", "", 1)
	// A writer that forgot to update the key-id column.
	if n, err := f.Store.ReplaceSealed(ctx, testColumn, []store.SealedReplacement{{ID: vs[0].ID, Old: vs[0].Ciphertext, New: vs[0].Ciphertext, NewKeyID: newKey.ID}}); err != nil || n != 1 {
		t.Fatal(n, err)
	}
	f.Clock.Advance(time.Hour)
	r := f.rotator(t, testConfig())
	rep, err := r.Run(ctx, Request{ID: "m1", Message: schedule(TaskReencrypt)})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Count(TaskReencrypt, "key_id_mismatch") != 1 || rep.Count(TaskReencrypt, "keys_destroyed") != 0 {
		t.Fatalf("report = %+v; want 1 mismatch and no key destroyed", rep.Task(TaskReencrypt))
	}
	if f.keyStates(t)[oldKey.ID] != store.DataKeyDecryptOnly {
		t.Fatal("key still named by a ciphertext header was destroyed")
	}
}

// The re-encryption is killed after a random batch, by an injected error or
// a cancelled context; the redelivered message resumes the run. Every
// record then opens, none is lost, and none was re-encrypted twice: the
// counts of both attempts add up to the number of records.
//
// Controls: CRED-8, APP-6
func TestReencryptResumesAfterCrash(t *testing.T) {
	const n = 600 // 12 batches of 50
	for _, b := range backends {
		for _, kill := range []string{"error", "cancel"} {
			t.Run(b+"/"+kill, func(t *testing.T) {
				t.Parallel()
				f := newFixture(t, b)
				f.sealAcrossKeys(t, n, 3)
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				stopAt := rand.IntN(10)
				crashing := f.rotator(t, testConfig())
				crashing.afterBatch = func(i int) error {
					if i < stopAt {
						return nil
					}
					if kill == "cancel" {
						cancel()
						return nil
					}
					return errInjected
				}
				req := Request{ID: "pubsub:1", Message: exposure(TaskDataKeys, TaskReencrypt)}
				rep1, err := crashing.Run(ctx, req)
				if err == nil {
					t.Fatal("killed run reported success")
				}
				if rep1.Task(TaskReencrypt).Status != StatusFailed || rep1.Task(TaskDataKeys).Status != StatusDone {
					t.Fatalf("report after the crash: %+v", rep1.Tasks)
				}
				first := rep1.Count(TaskReencrypt, "resealed")
				if first != int64(stopAt+1)*50 {
					t.Fatalf("resealed before the crash = %d, want %d", first, (stopAt+1)*50)
				}
				primary, _ := f.Store.PrimaryDataKey(context.Background())

				resumed := f.rotator(t, testConfig())
				rep2, err := resumed.Run(context.Background(), req)
				if err != nil {
					t.Fatal(err)
				}
				if p, _ := f.Store.PrimaryDataKey(context.Background()); p.ID != primary.ID {
					t.Fatal("the resumed run rotated the data key again")
				}
				if rep2.Resumes != 1 {
					t.Fatalf("resumes = %d, want 1", rep2.Resumes)
				}
				second := rep2.Count(TaskReencrypt, "resealed")
				if first+second != n {
					t.Fatalf("resealed %d + %d, want %d in all: records lost or processed twice", first, second, n)
				}
				f.checkAll(t)
				for id, st := range f.keyStates(t) {
					if id != primary.ID && st != store.DataKeyDestroyed {
						t.Fatalf("old key %s is %s after an exposure run, want destroyed", id, st)
					}
				}
			})
		}
	}
}

// Two re-encryptions at once, with no lease between them, end in the same
// state as one: every record moved once (the compare-and-swap makes the
// loser of each race skip), all open.
//
// Controls: CRED-8
func TestConcurrentReencryptionSameEndState(t *testing.T) {
	const n = 1000
	f := newFixture(t, "postgres")
	f.sealAcrossKeys(t, n, 3)
	ctx := context.Background()
	if _, err := f.app.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	f.Clock.Advance(16 * time.Minute)
	var wg sync.WaitGroup
	results := make([]map[string]int64, 4)
	errs := make([]error, len(results))
	for i := range results {
		r := f.rotator(t, testConfig())
		wg.Go(func() {
			res, err := r.reencrypt(ctx, &run{req: Request{ID: "c", Actor: "test", Message: schedule()}, rep: &Report{}})
			results[i], errs[i] = res.counts, err
		})
	}
	wg.Wait()
	var resealed, destroyed int64
	for i, c := range results {
		if errs[i] != nil {
			t.Fatalf("run %d: %v", i, errs[i])
		}
		resealed += c["resealed"]
		destroyed += c["keys_destroyed"]
	}
	if resealed != n {
		t.Fatalf("records re-encrypted %d times in all, want %d", resealed, n)
	}
	f.checkAll(t)
	states := f.keyStates(t)
	live := 0
	for _, st := range states {
		if st != store.DataKeyDestroyed {
			live++
		}
	}
	if live != 1 {
		t.Fatalf("%d live keys after concurrent re-encryption, want 1 (%v)", live, states)
	}
}

// Two full runs delivered at once: one takes the lease, the other does not
// run. Same message: acknowledged as a duplicate; other message: busy
// (retried later).
//
// Controls: CRED-8
func TestConcurrentRunsOneAtATime(t *testing.T) {
	for _, tc := range []struct {
		name     string
		sameID   bool
		loserErr error
	}{
		{"same message", true, ErrDuplicate},
		{"other message", false, ErrBusy},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, "postgres")
			f.sealAcrossKeys(t, 400, 2)
			entered, release := make(chan struct{}), make(chan struct{})
			first := f.rotator(t, testConfig())
			first.afterBatch = func(i int) error {
				if i == 0 {
					close(entered)
					<-release
				}
				return nil
			}
			ctx := context.Background()
			var wg sync.WaitGroup
			var rep1 Report
			var err1 error
			wg.Go(func() { rep1, err1 = first.Run(ctx, Request{ID: "a", Message: exposure(TaskDataKeys, TaskReencrypt)}) })
			<-entered
			id := "b"
			if tc.sameID {
				id = "a"
			}
			_, err2 := f.rotator(t, testConfig()).Run(ctx, Request{ID: id, Message: exposure(TaskDataKeys, TaskReencrypt)})
			close(release)
			wg.Wait()
			if err1 != nil || !errors.Is(err2, tc.loserErr) {
				t.Fatalf("first: %v; second: %v, want %v", err1, err2, tc.loserErr)
			}
			if rep1.Count(TaskReencrypt, "resealed") != 400 {
				t.Fatalf("resealed = %d, want 400", rep1.Count(TaskReencrypt, "resealed"))
			}
			f.checkAll(t)
		})
	}
}

// 10,000 sealed credentials across 3 data keys move to a new primary on
// real PostgreSQL: the data keys cost KMS calls, the records none (one
// unwrap per old key, one wrap for the new key); re-wrapping after a KMS
// key rotation costs exactly two calls per data key plus one probe for
// the current version.
//
// Controls: CRED-8, CRED-3
func TestTenThousandCredentials(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 records")
	}
	const n = 10000
	f := newFixture(t, "postgres")
	old := f.sealAcrossKeys(t, n, 3)
	f.kek.addVersion(t) // KMS rotated its key
	ctx := context.Background()

	rewrap, err := f.rotator(t, testConfig()).Run(ctx, Request{ID: "rewrap", Message: schedule(TaskRewrap)})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := rewrap.KMSCalls, int64(2*len(old)+1); got != want || rewrap.Count(TaskRewrap, "rewrapped") != 3 {
		t.Fatalf("rewrap: %d KMS calls, %d keys; want %d calls (2 x 3 data keys + 1 probe), 3 keys", got, rewrap.Count(TaskRewrap, "rewrapped"), want)
	}
	cfg := testConfig()
	cfg.BatchSize = 500
	start := time.Now()
	rep, err := f.rotator(t, cfg).Run(ctx, Request{ID: "exposure", Message: exposure(TaskDataKeys, TaskReencrypt)})
	if err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	if got := rep.Count(TaskReencrypt, "resealed"); got != n {
		t.Fatalf("resealed %d, want %d", got, n)
	}
	if rep.Task(TaskDataKeys).KMSCalls != 1 || rep.Task(TaskReencrypt).KMSCalls != int64(len(old)) {
		t.Fatalf("KMS calls: data-keys %d (want 1), reencrypt %d (want %d: one unwrap per old key, none per record)",
			rep.Task(TaskDataKeys).KMSCalls, rep.Task(TaskReencrypt).KMSCalls, len(old))
	}
	t.Logf("10,000 records re-encrypted in %v (%.0f records/s); KMS calls: rewrap %d, rotate+re-encrypt %d",
		elapsed, float64(n)/elapsed.Seconds(), rewrap.KMSCalls, rep.KMSCalls)
	f.checkAll(t)
	for _, id := range old {
		if f.keyStates(t)[id] != store.DataKeyDestroyed {
			t.Fatalf("old key %s not destroyed", id)
		}
	}
}

// While KMS is down, re-encryption fails with a retryable error and
// changes nothing; nothing is marked failed or destroyed.
//
// Controls: APP-5, CRED-5
func TestReencryptKMSDown(t *testing.T) {
	f := newFixture(t, "sqlite")
	f.sealAcrossKeys(t, 60, 2)
	f.Clock.Advance(time.Hour)
	r := f.rotator(t, testConfig())
	f.kek.setFail(envelope.Unavailable(errors.New("kms: 503")))
	rep, err := r.Run(context.Background(), Request{ID: "m", Message: schedule(TaskReencrypt)})
	if !errors.Is(err, envelope.ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
	if rep.Count(TaskReencrypt, "failed") != 0 || rep.Count(TaskReencrypt, "resealed") != 0 {
		t.Fatalf("report while KMS down: %+v", rep.Task(TaskReencrypt))
	}
	f.kek.setFail(nil)
	if _, err := r.Run(context.Background(), Request{ID: "m", Message: schedule(TaskReencrypt)}); err != nil {
		t.Fatal(err)
	}
	f.checkAll(t)
}
