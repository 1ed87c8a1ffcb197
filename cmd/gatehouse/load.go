package main

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// loadResult is what a closed-loop run measured.
type loadResult struct {
	n        int
	elapsed  time.Duration
	p50, p99 time.Duration
	failed   int
	firstErr error
}

func (r loadResult) rate() float64 { return float64(r.n) / r.elapsed.Seconds() }

// closedLoop runs clients goroutines, each sending its next request when
// the previous one is answered, until d has passed or max requests (0: no
// limit) were sent. do(client, i) sends request i of a client.
func closedLoop(ctx context.Context, clients, max int, d time.Duration, do func(ctx context.Context, client, i int) error) loadResult {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var mu sync.Mutex
	var lat []time.Duration
	res := loadResult{}
	sent := 0
	take := func() bool {
		mu.Lock()
		defer mu.Unlock()
		if ctx.Err() != nil || (max > 0 && sent >= max) {
			return false
		}
		sent++
		return true
	}
	start := time.Now()
	var wg sync.WaitGroup
	for c := range clients {
		wg.Go(func() {
			for i := 0; take(); i++ {
				s := time.Now()
				err := do(context.WithoutCancel(ctx), c, i)
				l := time.Since(s)
				mu.Lock()
				if err != nil {
					res.failed++
					if res.firstErr == nil {
						res.firstErr = err
					}
				} else {
					lat = append(lat, l)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	res.n = len(lat)
	slices.Sort(lat)
	if len(lat) > 0 {
		res.p50, res.p99 = lat[len(lat)/2], lat[min(len(lat)-1, len(lat)*99/100)]
	}
	return res
}

// header is the table's first line; row formats one result under it.
const header = "path                        clients  requests      req/s       p50       p99  floor                      ratio to floor"

func row(name string, clients int, r loadResult, floor string, ratio float64) string {
	s := fmt.Sprintf("%-26s %8d %9d %10.1f %9s %9s  %-26s", name, clients, r.n, r.rate(),
		r.p50.Round(10*time.Microsecond), r.p99.Round(10*time.Microsecond), floor)
	if ratio == 0 {
		return s + " -"
	}
	return fmt.Sprintf("%s %.2f", s, ratio)
}
