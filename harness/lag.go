package harness

import (
	"context"
	"fmt"
	"math"
	"runtime/metrics"
	"slices"
	"time"
)

// lagMonitor measures how late the harness's goroutines get to run while a run goes, two ways. A ticker every
// lagTick records the delay between when each tick was due and when it ran; and the Go runtime's own histogram of
// how long goroutines waited, runnable, for a CPU (/sched/latencies:seconds) is read at the start and at the end.
// The ticker alone misses the worst case: when the clients' connections churn (a per-node timeout closes a
// connection, its replacement's dial and first command miss the next timeout, and so on) the process burns its CPUs
// on thousands of short-lived goroutines while a timer still fires nearly on time. On a machine overloaded by its
// own runs (or by anything else), a lock whose per-node timeout is a few tens of milliseconds stalls for the
// harness's reasons, not its own: the run says so instead of passing the stall off as the lock's.
type lagMonitor struct {
	done    chan struct{}
	samples chan []time.Duration
	start   *metrics.Float64Histogram
}

const (
	lagTick     = 5 * time.Millisecond
	schedMetric = "/sched/latencies:seconds"
)

func startLagMonitor(ctx context.Context) *lagMonitor {
	m := &lagMonitor{done: make(chan struct{}), samples: make(chan []time.Duration, 1), start: schedHistogram()}
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

// schedHistogram reads the runtime's cumulative histogram of goroutine scheduling latencies (nil if this Go has none).
func schedHistogram() *metrics.Float64Histogram {
	s := []metrics.Sample{{Name: schedMetric}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindFloat64Histogram {
		return nil
	}
	h := s[0].Value.Float64Histogram()
	return &metrics.Float64Histogram{Counts: slices.Clone(h.Counts), Buckets: slices.Clone(h.Buckets)}
}

// quantile is the q-quantile of the counts end-start (the scheduling latencies recorded between two reads), taken
// as the upper bound of the bucket it falls in. It is process-wide: runs at once in one process share it, as they
// share the CPUs.
func quantile(start, end *metrics.Float64Histogram, q float64) time.Duration {
	if start == nil || end == nil || len(start.Counts) != len(end.Counts) {
		return 0
	}
	var total uint64
	for i := range end.Counts {
		total += end.Counts[i] - start.Counts[i]
	}
	if total == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(total)))
	var seen uint64
	for i := range end.Counts {
		seen += end.Counts[i] - start.Counts[i]
		if seen >= rank {
			up := end.Buckets[i+1]
			if math.IsInf(up, 1) {
				up = end.Buckets[i]
			}
			return time.Duration(up * float64(time.Second))
		}
	}
	return 0
}

// SchedLag is how late the harness's goroutines got to run during a run.
type SchedLag struct {
	// P99 and Max are the ticker's: how late a timer goroutine woke.
	P99 time.Duration `json:"p99_ns"`
	Max time.Duration `json:"max_ns"`
	// RunnableP99 is the runtime's: the 99th percentile of how long any goroutine of the process waited for a
	// CPU once runnable.
	RunnableP99 time.Duration `json:"runnable_p99_ns"`
}

func (m *lagMonitor) stop() SchedLag {
	close(m.done)
	lags := <-m.samples
	l := SchedLag{RunnableP99: quantile(m.start, schedHistogram(), 0.99)}
	if len(lags) == 0 {
		return l
	}
	slices.Sort(lags)
	l.P99, l.Max = lags[len(lags)*99/100], lags[len(lags)-1]
	return l
}

// Overloaded reports whether the lag ate a good part of a per-node timeout: a tenth of it at the ticker's 99th
// percentile or the whole of it at its worst, or half of it at the runtime's 99th percentile. Past that, a
// client's commands time out for the machine's reasons. (Measured on 2 CPUs, two runs at once: the runtime's p99
// was 2.6–7.3 ms; four multi-node runs beside two busy loops, which wrote no critical section for the rest of the
// run before the clients kept their connections through timeouts: 168–201 ms.)
func (l SchedLag) Overloaded(nodeTimeout time.Duration) bool {
	return l.P99 > nodeTimeout/10 || l.RunnableP99 > nodeTimeout/2 || l.Max > nodeTimeout
}

// String says it for a person.
func (l SchedLag) String() string {
	return fmt.Sprintf("scheduling lag p99 %s, max %s; goroutines waited for a CPU up to %s (p99)",
		l.P99.Round(time.Millisecond/10), l.Max.Round(time.Millisecond), l.RunnableP99.Round(time.Millisecond/10))
}
