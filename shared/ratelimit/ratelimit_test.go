package ratelimit_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/ratelimit"
	"github.com/gatehouse-dev/gatehouse/shared/store"
	"github.com/gatehouse-dev/gatehouse/shared/store/postgres/pgtest"
	"github.com/gatehouse-dev/gatehouse/shared/store/sqlite"
	"github.com/gatehouse-dev/gatehouse/shared/web"
)

var epoch = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func openSQLite(t *testing.T) store.Store {
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "r.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	return db
}

// Controls: AUTH-3
func TestAllowDeniesOverLimitWithRetryAfter(t *testing.T) {
	ctx := context.Background()
	c := &clock{epoch}
	l := ratelimit.New(openSQLite(t), c.now)
	login := ratelimit.Limit{Name: "login-account", Burst: 5, Period: 15 * time.Minute}
	for i := range 5 {
		if err := l.Allow(ctx, login, "ada@example.com"); err != nil {
			t.Fatalf("attempt %d: %v", i, err)
		}
	}
	err := l.Allow(ctx, login, "ada@example.com")
	var limited *ratelimit.LimitedError
	if !errors.As(err, &limited) || limited.RetryAfter != 3*time.Minute || limited.Limit != "login-account" {
		t.Fatalf("sixth attempt: %v, want limited with RetryAfter 3m", err)
	}
	if err := l.Allow(ctx, login, "bob@example.com"); err != nil {
		t.Fatalf("another account is limited too: %v", err)
	}
	c.t = c.t.Add(3 * time.Minute)
	if err := l.Allow(ctx, login, "ada@example.com"); err != nil {
		t.Fatalf("after RetryAfter: %v", err)
	}
	network := ratelimit.Limit{Name: "login-network", Burst: 1, Period: time.Minute}
	err = l.AllowAll(ctx, ratelimit.Check{Limit: network, Key: "192.0.2.0/24"}, ratelimit.Check{Limit: network, Key: "192.0.2.0/24"})
	if !errors.As(err, &limited) || limited.Limit != "login-network" {
		t.Fatalf("AllowAll: %v, want the network limit", err)
	}
}

// Controls: APP-5
func TestFailsClosedWhenStoreBreaks(t *testing.T) {
	ctx := context.Background()
	limit := ratelimit.Limit{Name: "login-account", Burst: 100, Period: time.Minute}
	for _, tc := range []struct {
		name       string
		breakStore func(t *testing.T) store.Store
	}{
		{"sqlite closed", func(t *testing.T) store.Store {
			s := openSQLite(t)
			s.Close()
			return s
		}},
		{"postgres table dropped", func(t *testing.T) store.Store {
			db := pgtest.New(t)
			if _, err := db.Owner.Exec(ctx, `DROP TABLE rate_limits`); err != nil {
				t.Fatal(err)
			}
			return db.Store
		}},
		{"postgres pool closed", func(t *testing.T) store.Store {
			db := pgtest.New(t)
			db.Store.Pool().Close()
			return db.Store
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := ratelimit.New(tc.breakStore(t), nil)
			err := l.Allow(ctx, limit, "ada@example.com")
			if !errors.Is(err, ratelimit.ErrUnavailable) {
				t.Fatalf("Allow on a broken store: %v, want ErrUnavailable (deny)", err)
			}
		})
	}
}

// A denial is a 429 with Retry-After and a limiter that cannot answer is a
// 503: neither waves the request through.
//
// Controls: AUTH-3, APP-5
func TestHTTPError(t *testing.T) {
	limited := &ratelimit.LimitedError{Limit: "login-account", RetryAfter: 90 * time.Second}
	broken := fmt.Errorf("%w: login-account: %w", ratelimit.ErrUnavailable, errors.New("connection refused"))
	for _, tc := range []struct {
		name       string
		in         error
		status     int
		retryAfter time.Duration
	}{
		{"allowed", nil, 0, 0},
		{"denied", limited, http.StatusTooManyRequests, 90 * time.Second},
		{"denied, wrapped", fmt.Errorf("check: %w", limited), http.StatusTooManyRequests, 90 * time.Second},
		{"unavailable", broken, http.StatusServiceUnavailable, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := ratelimit.HTTPError(tc.in)
			if tc.in == nil {
				if err != nil {
					t.Fatalf("HTTPError(nil) = %v, want nil", err)
				}
				return
			}
			var we *web.Error
			if !errors.As(err, &we) || we.Status != tc.status || we.RetryAfter != tc.retryAfter {
				t.Fatalf("HTTPError(%v) = %#v, want status %d, Retry-After %s", tc.in, err, tc.status, tc.retryAfter)
			}
			if !errors.Is(err, tc.in) {
				t.Fatalf("HTTPError(%v) lost its cause: %v", tc.in, err)
			}
		})
	}
}
