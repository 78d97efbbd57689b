package harness_test

import (
	"context"
	"testing"

	"github.com/redlock-harness/redlock-harness/harness"
	"github.com/redlock-harness/redlock-harness/lock"
)

// BenchmarkLockCycles measures lock cycles per second with 32 workers through the embedded Toxiproxy and straight
// to Redis, so the proxy's cost is known when reading throughput figures of a run.
func BenchmarkLockCycles(b *testing.B) {
	for _, st := range []string{"lua", "redlock"} {
		for _, proxied := range []bool{true, false} {
			name := st + "/direct"
			if proxied {
				name = st + "/proxied"
			}
			b.Run(name, func(b *testing.B) {
				info, err := lock.Lookup(st)
				if err != nil {
					b.Skip(err)
				}
				c, err := harness.MeasureCycles(context.Background(), info.Make(), 32, proxied, 0, int64(b.N))
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(c.PerSecond(), "cycles/s")
			})
		}
	}
}
