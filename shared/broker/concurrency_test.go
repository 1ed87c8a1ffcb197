package broker_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/bootstrap/bootstraptest"
	"github.com/gatehouse-dev/gatehouse/shared/broker"
	"github.com/gatehouse-dev/gatehouse/shared/envelope"
	"github.com/gatehouse-dev/gatehouse/shared/oauthtest"
)

// 50 concurrent calls for one expiring connection, each through its own
// Broker (as if on 50 instances: nothing is shared in memory), on real
// PostgreSQL, make exactly one refresh call; all get the new token.
//
// Controls: CRED-7
func TestConcurrentCallsRefreshOnce(t *testing.T) {
	s := bootstraptest.Postgres(t)
	f := newFixture(t, s, oauthtest.Options{RotateRefreshTokens: true, RefreshDelay: 250 * time.Millisecond})
	f.connect(t, "con-1")
	f.expire()
	const n = 50
	brokers := make([]*broker.Broker, n)
	for i := range brokers {
		brokers[i] = f.broker(nil)
	}
	tokens := make([]string, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			tok, err := brokers[i].Token(context.Background(), org, "con-1")
			tokens[i], errs[i] = tok.AccessToken.Reveal(), err
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		if tokens[i] != tokens[0] {
			t.Fatalf("call %d got another token than call 0", i)
		}
	}
	t.Logf("refresh calls %d", f.srv.RefreshCalls())
	if got := f.srv.RefreshCalls(); got != 1 {
		t.Fatalf("%d refresh calls reached the platform, want exactly 1", got)
	}
	if !f.srv.AccessTokenValid(tokens[0]) {
		t.Fatal("the token handed out is not valid at the platform")
	}
}

// BenchmarkTokenFresh compares a broker call for a fresh token with its
// floor: one point query for the connection and one envelope Open. The
// ratio metric is baseline time over broker time, in percent (target: at
// least 70).
func BenchmarkTokenFresh(b *testing.B) {
	for _, backend := range bootstraptest.Backends {
		b.Run(backend.Name, func(b *testing.B) {
			f := newFixture(b, backend.Open(b), oauthtest.Options{})
			f.connect(b, "con-1")
			br, ctx := f.broker(nil), context.Background()
			baseline := func() {
				c, err := f.env.Store.Connection(ctx, org, "con-1")
				if err != nil {
					b.Fatal(err)
				}
				if _, err := f.env.Keyring.Open(ctx, envelope.PurposeCredential, broker.Binding(org, c.ID, broker.FieldAccessToken), c.AccessToken); err != nil {
					b.Fatal(err)
				}
			}
			gatehouse := func() {
				if _, err := br.Token(ctx, org, "con-1"); err != nil {
					b.Fatal(err)
				}
			}
			baseline()
			gatehouse()
			b.ResetTimer()
			base := timeN(b.N, baseline)
			gh := timeN(b.N, gatehouse)
			b.ReportMetric(float64(base.Nanoseconds())/float64(b.N), "baseline-ns/op")
			b.ReportMetric(float64(gh.Nanoseconds())/float64(b.N), "broker-ns/op")
			b.ReportMetric(100*float64(base)/float64(gh), "ratio-%")
		})
	}
}

func timeN(n int, fn func()) time.Duration {
	start := time.Now()
	for range n {
		fn()
	}
	return time.Since(start)
}
