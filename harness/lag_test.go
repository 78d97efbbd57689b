package harness

import (
	"runtime/metrics"
	"testing"
	"time"
)

func TestAMachineIsOverloadedWhenItsGoroutinesWaitAGoodPartOfAPerNodeTimeout(t *testing.T) {
	const timeout = 50 * time.Millisecond
	tests := []struct {
		name string
		lag  SchedLag
		want bool
	}{
		{"two runs at once on two CPUs, as measured, are not overloaded", SchedLag{P99: 100 * time.Microsecond, Max: 2 * time.Millisecond, RunnableP99: 7300 * time.Microsecond}, false},
		{"a timer that wakes a tenth of a timeout late at the 99th percentile is overloaded", SchedLag{P99: 6 * time.Millisecond}, true},
		{"a timer that once wakes a whole timeout late is overloaded", SchedLag{Max: 60 * time.Millisecond}, true},
		{"goroutines waiting for a CPU for half a timeout at the 99th percentile are overloaded, however punctual the timer", SchedLag{P99: 100 * time.Microsecond, RunnableP99: 168 * time.Millisecond}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.lag.Overloaded(timeout); got != tt.want {
				t.Fatalf("Overloaded(%s) of %s = %v, want %v", timeout, tt.lag, got, tt.want)
			}
		})
	}
}

func TestTheQuantileOfTwoHistogramReadsCountsOnlyWhatHappenedBetweenThem(t *testing.T) {
	buckets := []float64{0, 0.001, 0.01, 0.1, 1}
	start := &metrics.Float64Histogram{Buckets: buckets, Counts: []uint64{1000, 0, 0, 0}}
	end := &metrics.Float64Histogram{Buckets: buckets, Counts: []uint64{1090, 0, 0, 10}}
	if got := quantile(start, end, 0.5); got != time.Millisecond {
		t.Fatalf("median = %s, want 1ms (the 1000 earlier fast waits must not count)", got)
	}
	if got := quantile(start, end, 0.99); got != time.Second {
		t.Fatalf("p99 = %s, want 1s", got)
	}
	if got := quantile(start, start, 0.99); got != 0 {
		t.Fatalf("p99 of nothing = %s, want 0", got)
	}
}
