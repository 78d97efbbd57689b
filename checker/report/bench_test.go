package report

import (
	"io"
	"testing"
)

// countingWriter counts the bytes of the page without keeping them.
type countingWriter struct{ n int64 }

func (c *countingWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

var _ io.Writer = (*countingWriter)(nil)

// large100k is a run of 100 000 operations (invocations) by 24 workers, with faults and two violations.
func large100k() Input {
	h, viols := synthRun{Groups: 3, Workers: 8, Ops: 100_000, Violations: true, Seed: 5}.Generate()
	return Input{History: h, Violations: viols, Verdict: "invalid", Summary: "invalid"}
}

// BenchmarkReport100kOps renders the report of a 100k-operation run: the targets are under 2 s and under 20 MB.
func BenchmarkReport100kOps(b *testing.B) {
	in := large100k()
	var size int64
	for b.Loop() {
		var c countingWriter
		if err := Write(&c, in); err != nil {
			b.Fatal(err)
		}
		size = c.n
	}
	b.ReportMetric(float64(size), "bytes/page")
	b.ReportMetric(float64(len(in.History.Events)), "events")
}

// TestLargePageSize keeps the page of a 100k-operation run well under 20 MB, so that it opens in a browser and
// can be attached to a bug report.
func TestLargePageSize(t *testing.T) {
	if testing.Short() {
		t.Skip("large run")
	}
	in := large100k()
	var c countingWriter
	if err := Write(&c, in); err != nil {
		t.Fatal(err)
	}
	if c.n >= 20<<20 {
		t.Fatalf("page of %d bytes for 100k operations, want under 20 MB", c.n)
	}
	t.Logf("%d events, %d bytes", len(in.History.Events), c.n)
}
