package logtest_test

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/gatehouse-dev/gatehouse/shared/logging/logtest"
)

// recorder is a testing.TB that records failures instead of failing.
type recorder struct {
	testing.TB
	mu       sync.Mutex
	errs     []string
	cleanups []func()
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	runtime.Goexit()
}

func (r *recorder) Cleanup(f func()) { r.cleanups = append(r.cleanups, f) }

// finish runs the cleanups as the testing package would.
func (r *recorder) finish() {
	for i := len(r.cleanups) - 1; i >= 0; i-- {
		r.cleanups[i]()
	}
}

// run calls f in its own goroutine, so a Fatalf ends only f.
func run(f func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	<-done
}

// Controls: AUDIT-2, CRED-4
func TestCaptureCatchesPlantedSecrets(t *testing.T) {
	const secret = "pa$$w0rd/with+odd&chars<>"
	tests := []struct {
		name    string
		message string
		caught  bool
	}{
		{name: "raw", message: "login " + secret, caught: true},
		{name: "json escaped by handler", message: `x"` + secret, caught: true},
		{name: "hex", message: hex.EncodeToString([]byte(secret)), caught: true},
		{name: "upper hex", message: strings.ToUpper(hex.EncodeToString([]byte(secret))), caught: true},
		{name: "base64", message: base64.StdEncoding.EncodeToString([]byte(secret)), caught: true},
		{name: "base64url", message: base64.URLEncoding.EncodeToString([]byte(secret)), caught: true},
		{name: "base64 inside basic auth", message: "Basic " + base64.StdEncoding.EncodeToString([]byte("alice:"+secret)), caught: true},
		{name: "base64 offset two", message: base64.StdEncoding.EncodeToString([]byte("ab" + secret + "tail")), caught: true},
		{name: "query escaped", message: "/cb?p=" + url.QueryEscape(secret), caught: true},
		{name: "path escaped", message: "/x/" + url.PathEscape(secret), caught: true},
		{name: "clean", message: "login failed for alice", caught: false},
		{name: "prefix only", message: secret[:8], caught: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{TB: t}
			run(func() {
				l, c := logtest.New(rec)
				c.Plant(secret)
				l.Info(tt.message)
			})
			rec.finish()
			if got := len(rec.errs) > 0; got != tt.caught {
				t.Errorf("caught = %v, want %v (errors %q)", got, tt.caught, rec.errs)
			}
		})
	}
}

func TestCaptureAttributeLeak(t *testing.T) {
	rec := &recorder{TB: t}
	run(func() {
		l, c := logtest.New(rec)
		c.Plant("0123456789abcdef")
		l.Info("m", "innocent_looking", "0123456789abcdef")
		c.AssertClean(rec)
	})
	if len(rec.errs) != 1 {
		t.Errorf("AssertClean reported %d errors, want 1: %q", len(rec.errs), rec.errs)
	}
}

func TestPlantRejectsShortSecret(t *testing.T) {
	rec := &recorder{TB: t}
	run(func() {
		_, c := logtest.New(rec)
		c.Plant("12345")
		t.Error("Plant returned for a short secret")
	})
	if len(rec.errs) != 1 || !strings.Contains(rec.errs[0], "shorter") {
		t.Errorf("errors = %q, want one about length", rec.errs)
	}
}

func TestLinesAndFind(t *testing.T) {
	l, c := logtest.New(t)
	l.Debug("first", "n", 1)
	l.Warn("second")
	l.Error("first", "n", 2)
	if got := len(c.Lines()); got != 3 {
		t.Fatalf("Lines() = %d entries, want 3", got)
	}
	found := c.Find("first")
	if len(found) != 2 || found[0]["n"] != float64(1) || found[1]["n"] != float64(2) {
		t.Errorf("Find(first) = %v", found)
	}
	if s := c.Find("second"); len(s) != 1 || s[0].Severity() != "WARNING" {
		t.Errorf("Find(second) = %v", s)
	}
	if len(c.Find("absent")) != 0 {
		t.Errorf("Find(absent) found entries")
	}
}

func TestLinesReportsNonJSON(t *testing.T) {
	rec := &recorder{TB: t}
	run(func() {
		c := logtest.NewCapture(rec)
		_, _ = c.Write([]byte("not json\n{\"message\":\"ok\"}\n"))
		if got := len(c.Lines()); got != 1 {
			rec.Errorf("Lines() = %d, want 1", got)
		}
	})
	if len(rec.errs) != 1 || !strings.Contains(rec.errs[0], "not a JSON object") {
		t.Errorf("errors = %q", rec.errs)
	}
}

func TestConcurrentWrites(t *testing.T) {
	l, c := logtest.New(t)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.Info("m", "i", i)
		}()
	}
	wg.Wait()
	if got := len(c.Find("m")); got != 20 {
		t.Errorf("captured %d entries, want 20", got)
	}
}
