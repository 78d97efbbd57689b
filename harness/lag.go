package harness

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// lagMonitor measures how late a goroutine of the harness wakes up while a run goes: a ticker every lagTick, and
// the delay between when each tick was due and when it ran. On a machine overloaded by its own runs (or by
// anything else), every client goroutine is that late too, and a lock whose per-node timeout is a few tens of
// milliseconds stalls for the harness's reasons, not its own: the run says so instead of passing the stall off
// as the lock's.
type lagMonitor struct {
	done    chan struct{}
	samples chan []time.Duration
}

const lagTick = 5 * time.Millisecond

func startLagMonitor(ctx context.Context) *lagMonitor {
	m := &lagMonitor{done: make(chan struct{}), samples: make(chan []time.Duration, 1)}
	go func() {
		var lags []time.Duration
		next := time.Now().Add(lagTick)
		t := time.NewTimer(lagTick)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				m.samples <- lags
				return
			case <-m.done:
				m.samples <- lags
				return
			case now := <-t.C:
				lags = append(lags, max(now.Sub(next), 0))
				next = time.Now().Add(lagTick)
				t.Reset(lagTick)
			}
		}
	}()
	return m
}

// SchedLag is how late the harness's goroutines woke up during a run.
type SchedLag struct {
	P99 time.Duration `json:"p99_ns"`
	Max time.Duration `json:"max_ns"`
}

func (m *lagMonitor) stop() SchedLag {
	close(m.done)
	lags := <-m.samples
	if len(lags) == 0 {
		return SchedLag{}
	}
	slices.Sort(lags)
	return SchedLag{P99: lags[len(lags)*99/100], Max: lags[len(lags)-1]}
}

// Overloaded reports whether the lag ate a good part of a per-node timeout: a tenth of the time at the 99th
// percentile, or the whole of it at the worst. Past that, a client's commands time out for the machine's reasons.
func (l SchedLag) Overloaded(nodeTimeout time.Duration) bool {
	return l.P99 > nodeTimeout/10 || l.Max > nodeTimeout
}

// String says it for a person.
func (l SchedLag) String() string {
	return fmt.Sprintf("scheduling lag p99 %s, max %s", l.P99.Round(time.Millisecond/10), l.Max.Round(time.Millisecond))
}
