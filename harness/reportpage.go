package harness

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"

	"github.com/redlock-harness/redlock-harness/checker"
	"github.com/redlock-harness/redlock-harness/checker/report"
	"github.com/redlock-harness/redlock-harness/history"
)

func interval(c checker.CriticalSection) report.Interval {
	return report.Interval{ID: c.ID, Worker: c.Worker, ReadT: int64(c.ReadAt), WriteT: int64(c.WroteAt), Read: c.Read, Wrote: c.Wrote, Fence: c.Fence}
}

// ReportInput turns a judged history into what the HTML report draws, without the servers' side: set the input's
// Nodes (NodeRecord) to draw the node lanes, as WriteReport does when the run kept a node record. The page draws
// the operations the checker paired (r.Ops), so that it shows exactly what the verdict was reached on.
func ReportInput(h *history.History, r checker.Result) report.Input {
	in := report.Input{History: h, Ops: r.Ops, Verdict: string(r.Verdict), Summary: r.Summary(), Notes: r.Notes,
		Links:    map[string]string{"linearizability.html": "porcupine visualisation"},
		Liveness: r.Liveness.Verdict, LivenessReason: r.Liveness.Reason()}
	for _, o := range r.Overlap.Overlaps {
		in.Violations = append(in.Violations, report.Violation{Key: o.Key, A: interval(o.First), B: interval(o.Second), Cause: string(o.Cause),
			Faults: o.Faults, Story: o.Story, Nodes: o.Nodes, BeliefCause: string(o.BeliefCause)})
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

// WriteReport writes report.html into a run directory, with a lane per lock server when the directory holds the
// servers' own record (nodes.jsonl), so that what the clients believed can be read against what the servers did.
// A record that cannot be read is noted on the page rather than failing the report: the page is most wanted for
// the runs that went wrong.
func WriteReport(dir string, h *history.History, r checker.Result) error {
	in := ReportInput(h, r)
	evs, err := history.ReadNodes(filepath.Join(dir, history.NodeFile))
	switch {
	case err == nil:
		in.Nodes = NodeRecord(evs)
	case !errors.Is(err, fs.ErrNotExist):
		in.Notes = append(in.Notes, fmt.Sprintf("node record not drawn: %v", err))
	}
	return report.WriteFile(filepath.Join(dir, "report.html"), in)
}

// NodeRecord turns a run's node record into what the report draws on its node lanes: the holds the checker replays
// from it (checker.NodeTenures), each renewal by another client with who sent it, and the nodes' lifecycle. The
// commands themselves, tens of thousands in a long run, stay out of the page.
func NodeRecord(evs []history.NodeEvent) *report.NodeRecord {
	rec := &report.NodeRecord{Tenures: []report.Tenure{}}
	type at struct {
		node, key string
		t         int64
	}
	renewers := map[at][]string{} // who sent each renewal, to name the sender of a foreign one
	for _, e := range evs {
		switch e.Ev {
		case history.NodeCmd:
			if c := strings.ToUpper(e.Cmd); c == "PEXPIRE" || c == "EXPIRE" {
				k := at{e.Node, e.Key, e.T}
				renewers[k] = append(renewers[k], e.Client)
			}
		case history.NodeUp, history.NodeDown, history.NodeRestart, history.NodeMoved, history.NodeNote:
			rec.Events = append(rec.Events, e)
		}
	}
	for _, t := range checker.NodeTenures(evs) {
		x := report.Tenure{Node: t.Node, Key: t.Key, Owner: t.Owner, From: int64(t.From), To: int64(t.To), End: t.End, By: t.By}
		for _, f := range t.Foreign {
			by := ""
			for _, c := range renewers[at{t.Node, t.Key, int64(f)}] {
				if c != t.Owner {
					by = c
					break
				}
			}
			x.Foreign = append(x.Foreign, report.Renewal{At: int64(f), By: by})
		}
		rec.Tenures = append(rec.Tenures, x)
	}
	return rec
}
