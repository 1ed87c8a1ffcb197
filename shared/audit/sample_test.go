package audit

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// A flood of one key writes Burst events per window; the suppressed count
// is reported by the key's next admitted event, so nothing goes unnoticed;
// other keys are unaffected.
//
// Controls: AUDIT-1
func TestSampler(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := NewSampler(3, time.Minute, func() time.Time { return now })
	admitted := 0
	for range 100 {
		if ok, n := s.Admit("stripe|198.51.100.0/24|signature"); ok {
			admitted++
			if n != 0 {
				t.Fatalf("first window reported %d suppressed", n)
			}
		}
	}
	if admitted != 3 {
		t.Fatalf("%d admitted in one window, want 3", admitted)
	}
	if ok, n := s.Admit("stripe|203.0.113.0/24|signature"); !ok || n != 0 {
		t.Fatalf("another key: %v %d", ok, n)
	}
	now = now.Add(time.Minute)
	if ok, n := s.Admit("stripe|198.51.100.0/24|signature"); !ok || n != 97 {
		t.Fatalf("next window: admitted %v, suppressed %d, want 97", ok, n)
	}
	if ok, n := s.Admit("stripe|198.51.100.0/24|signature"); !ok || n != 0 {
		t.Fatalf("count reported twice: %v %d", ok, n)
	}
}

// Distinct keys cannot grow the sampler without bound: past the limit they
// share one overflow key, and expired keys are swept.
func TestSamplerBounded(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := NewSampler(1, time.Minute, func() time.Time { return now })
	overflowAdmitted := 0
	for i := range maxKeys + 500 {
		if ok, _ := s.Admit(fmt.Sprint("net-", i)); ok && i >= maxKeys {
			overflowAdmitted++
		}
	}
	if len(s.keys) > maxKeys+1 || overflowAdmitted != 1 {
		t.Fatalf("%d keys, %d admitted past the limit; want at most %d keys and 1", len(s.keys), overflowAdmitted, maxKeys+1)
	}
	now = now.Add(time.Minute)
	if ok, _ := s.Admit("fresh"); !ok || len(s.keys) > 2 {
		t.Fatalf("after the window: admitted %v with %d keys left", ok, len(s.keys))
	}
}

func TestSamplerConcurrent(t *testing.T) {
	s := NewSampler(5, time.Hour, nil)
	var mu sync.Mutex
	admitted := 0
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			if ok, _ := s.Admit("k"); ok {
				mu.Lock()
				admitted++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if admitted != 5 {
		t.Fatalf("%d admitted, want 5", admitted)
	}
}
