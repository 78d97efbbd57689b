// Package workload runs the lock clients: workers that acquire a lock, work on a protected resource, renew and
// release, recording every step in the history. The resource lives in the harness's own process so that it is
// ground truth: one clock and one mutex see every read and write of every worker, whatever the network does.
package workload

import (
	"errors"
	"sync"

	"github.com/redlock-harness/redlock-harness/history"
)

// ErrFenced is returned by Resource.Read and Resource.Write when the access carries a fencing token lower than one
// the resource has already seen for the key.
var ErrFenced = errors.New("workload: stale fencing token")

// Resource is the protected state: one counter per key. Each critical section reads a counter and writes it plus
// one; under mutual exclusion no increment is lost. It stamps each read and write with the run's clock inside its
// mutex, so the history's cs intervals are exact.
type Resource struct {
	mu     sync.Mutex
	clock  history.Clock
	fenced bool
	vals   map[string]int64
	fences map[string]int64
	// rejected counts reads and writes refused for a stale token.
	rejected int64
	// lost counts writes that found the counter moved since their read: a lost update, seen as it happens.
	lost int64
}

// NewResource makes a resource. When fenced is true, it rejects an access whose fencing token is lower than the
// highest it has seen for the key: that is how fencing tokens protect real storage. Reads count as well as
// writes: a critical section is a read-modify-write, and if only writes raised the bar, a stale holder could
// write between a newer holder's read and its write (the newer holder's token not yet seen), and the newer
// holder would then overwrite that increment. Seeing the token at the read closes that gap.
func NewResource(clock history.Clock, fenced bool) *Resource {
	return &Resource{clock: clock, fenced: fenced, vals: map[string]int64{}, fences: map[string]int64{}}
}

// Read returns the key's value and the instant of the read, or ErrFenced (and the instant of the refusal) when the
// resource is fenced and fence is lower than the highest token seen for the key. A fenced read raises that bar.
func (r *Resource) Read(key string, fence int64) (v int64, t int64, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t = r.clock.Now()
	if r.fenced {
		if fence < r.fences[key] {
			r.rejected++
			return 0, t, ErrFenced
		}
		r.fences[key] = fence
	}
	return r.vals[key], t, nil
}

// Write stores v under key and returns the instant of the write, or ErrFenced (and the instant of the refusal).
// v is the value read plus one: a counter no longer at v−1 was written by someone else in between.
func (r *Resource) Write(key string, v, fence int64) (t int64, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t = r.clock.Now()
	if r.fenced {
		if fence < r.fences[key] {
			r.rejected++
			return t, ErrFenced
		}
		r.fences[key] = fence
	}
	if r.vals[key] != v-1 {
		// Another section wrote since this one read: two critical sections overlapped and one increment is
		// lost. The checker finds and explains every such pair afterwards; this count is the live signal.
		r.lost++
	}
	r.vals[key] = v
	return t, nil
}

// LostUpdates is how many writes so far found the counter moved since their read: a sign, while the run goes,
// that mutual exclusion was violated.
func (r *Resource) LostUpdates() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lost
}

// Value returns the key's current value.
func (r *Resource) Value(key string) int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.vals[key]
}

// Rejected returns how many reads and writes were refused for a stale token.
func (r *Resource) Rejected() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.rejected
}
