package storetest

import (
	"errors"
	"sync"
	"testing"
)

// race runs fn(0) to fn(n-1) in n goroutines at once and returns, once
// every one has returned, their errors by index.
func race(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = fn(i) })
	}
	wg.Wait()
	return errs
}

// exactlyOne checks the outcome of a race: exactly one nil error, and every
// other error wrapping loser.
func exactlyOne(t *testing.T, errs []error, loser error) {
	t.Helper()
	wins := 0
	for i, err := range errs {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, loser):
			t.Errorf("racer %d lost with %v, want %v", i, err, loser)
		}
	}
	if wins != 1 {
		t.Fatalf("%d of %d racers won, want exactly 1", wins, len(errs))
	}
}
