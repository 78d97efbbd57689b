package harness

import (
	"fmt"
	"path/filepath"

	"github.com/redlock-harness/redlock-harness/checker"
	"github.com/redlock-harness/redlock-harness/checker/report"
	"github.com/redlock-harness/redlock-harness/history"
)

func interval(c checker.CriticalSection) report.Interval {
	return report.Interval{ID: c.ID, Worker: c.Worker, ReadT: int64(c.ReadAt), WriteT: int64(c.WroteAt), Read: c.Read, Wrote: c.Wrote, Fence: c.Fence}
}

// ReportInput turns a judged history into what the HTML report draws.
func ReportInput(h *history.History, r checker.Result) report.Input {
	in := report.Input{History: h, Verdict: string(r.Verdict), Summary: r.Summary(), Notes: r.Notes,
		Links:    map[string]string{"linearizability.html": "porcupine visualisation"},
		Liveness: r.Liveness.Verdict, LivenessReason: r.Liveness.Reason()}
	for _, o := range r.Overlap.Overlaps {
		in.Violations = append(in.Violations, report.Violation{Key: o.Key, A: interval(o.First), B: interval(o.Second), Cause: string(o.Cause), Faults: o.Faults})
	}
	for _, s := range r.Liveness.Stuck {
		in.Stuck = append(in.Stuck, report.StuckSpan{Key: s.Key, From: int64(s.Since), To: int64(s.Until),
			FaultFree: int64(s.FaultFree), Attempts: s.Attempts, Last: s.Last})
	}
	l := r.Liveness
	cols := []checker.LivenessFigures{l.All, l.InFaults, l.OutsideFaults}
	t := report.Table{Title: "Liveness", Header: []string{"", "all", "in faults", "outside faults"}}
	add := func(label string, f func(checker.LivenessFigures) string) {
		row := []string{label}
		for _, c := range cols {
			row = append(row, f(c))
		}
		t.Rows = append(t.Rows, row)
	}
	num := func(f func(checker.LivenessFigures) int) func(checker.LivenessFigures) string {
		return func(c checker.LivenessFigures) string { return fmt.Sprint(f(c)) }
	}
	add("time", func(c checker.LivenessFigures) string { return c.Duration.Round(1e6).String() })
	add("acquires tried", num(func(c checker.LivenessFigures) int { return c.Acquires.Tried }))
	add("granted", num(func(c checker.LivenessFigures) int { return c.Acquires.Granted }))
	add("refused", num(func(c checker.LivenessFigures) int { return c.Acquires.Refused }))
	add("indeterminate", num(func(c checker.LivenessFigures) int { return c.Acquires.Indeterminate }))
	add("acquire p50", func(c checker.LivenessFigures) string { return c.AcquireP50.Round(1e5).String() })
	add("acquire p99", func(c checker.LivenessFigures) string { return c.AcquireP99.Round(1e5).String() })
	add("sections written", num(func(c checker.LivenessFigures) int { return c.CS.Written }))
	add("abandoned", num(func(c checker.LivenessFigures) int { return c.CS.Abandoned }))
	add("fenced", num(func(c checker.LivenessFigures) int { return c.CS.Fenced }))
	add("written/s", func(c checker.LivenessFigures) string { return fmt.Sprintf("%.1f", c.CSPerSec) })
	in.Tables = []report.Table{t}
	return in
}

// WriteReport writes report.html into a run directory.
func WriteReport(dir string, h *history.History, r checker.Result) error {
	return report.WriteFile(filepath.Join(dir, "report.html"), ReportInput(h, r))
}
