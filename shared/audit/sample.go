package audit

import (
	"sync"
	"time"
)

// Sampler bounds what a flood of one kind of event can write to the audit
// log, for events nobody authenticated (a webhook with a bad signature):
// per key, at most Burst events in each Window are admitted; the rest are
// counted, and the next admitted event of the key reports the count. Every
// append to the chain is serialized on its head, so an unbounded stream
// of junk would slow every real event too.
//
// State is per process and bounded: past maxKeys distinct keys in a
// window, new keys share one overflow key.
type Sampler struct {
	burst  int
	window time.Duration
	now    func() time.Time

	mu   sync.Mutex
	keys map[string]*sample
}

type sample struct {
	start      time.Time
	admitted   int
	suppressed int64
}

// maxKeys bounds a Sampler's memory.
const maxKeys = 10000

// overflowKey collects keys beyond maxKeys.
const overflowKey = "\x00overflow"

// NewSampler returns a sampler admitting burst events per key per window.
func NewSampler(burst int, window time.Duration, now func() time.Time) *Sampler {
	if now == nil {
		now = time.Now
	}
	return &Sampler{burst: max(burst, 1), window: window, now: now, keys: map[string]*sample{}}
}

// Admit reports whether an event for key should be recorded and, if so,
// how many of the key's events were suppressed since the last admitted one.
func (s *Sampler) Admit(key string) (ok bool, suppressed int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	st, found := s.keys[key]
	if !found {
		if len(s.keys) >= maxKeys {
			s.sweep(now)
		}
		if len(s.keys) >= maxKeys {
			key = overflowKey
			st, found = s.keys[key]
		}
		if !found {
			st = &sample{start: now}
			s.keys[key] = st
		}
	}
	if now.Sub(st.start) >= s.window {
		st.start, st.admitted = now, 0
	}
	if st.admitted >= s.burst {
		st.suppressed++
		return false, 0
	}
	st.admitted++
	suppressed, st.suppressed = st.suppressed, 0
	return true, suppressed
}

// sweep drops keys whose window has passed and that have nothing to report.
func (s *Sampler) sweep(now time.Time) {
	for k, st := range s.keys {
		if now.Sub(st.start) >= s.window && st.suppressed == 0 {
			delete(s.keys, k)
		}
	}
}
