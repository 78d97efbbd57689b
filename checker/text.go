package checker

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"
)

// Summary is the verdict in one line, with the first counterexample when there is one, e.g.
// "invalid: g1w3 and g2w1 overlap on k0 at 4.21s–4.38s (both read 41; granted-twice; faults: partition)".
// When a key got stuck it ends with the first one, e.g. "; stuck: k2 since 3.10s (g1w4 crashed holding the
// lock) and 1 more key", so that a stuck lock is seen where the verdict is read without changing the verdict.
// It is the last line a run prints and the cell text of the comparison matrix.
func (r Result) Summary() string {
	v := r.Verdict
	if v == "" {
		v = Unknown
	}
	s := string(v)
	if r.Reason != "" {
		s += ": " + r.Reason
	}
	if st := r.Liveness.Stuck; r.Stuck() && len(st) > 0 {
		s += fmt.Sprintf("; stuck: %s since %s (%s)", st[0].Key, fmtDur(st[0].Since), st[0].Last)
		if len(st) > 1 {
			s += " and " + plural(len(st)-1, "more key", "more keys")
		}
	}
	if l := r.Liveness; l.Verdict == LivenessUnknown {
		s += "; liveness unknown: " + l.Doubt
	}
	return s
}

// Text is the result for a terminal: the summary, then each checker's finding, the counterexamples, the faults,
// the liveness verdict with every stuck key, and the liveness figures, one item a line.
func (r Result) Text() string {
	var b strings.Builder
	fmt.Fprintln(&b, r.Summary())
	name := strings.Trim(r.Scenario+"/"+r.Strategy, "/")
	if name != "" {
		name += fmt.Sprintf(" seed %d: ", r.Seed)
	}
	fmt.Fprintf(&b, "history: %s%s over %s, %s (minimum %d)\n", name, plural(r.Events, "event", "events"), fmtDur(r.Span),
		plural(r.CriticalSections, "critical section written", "critical sections written"), r.MinCriticalSections)
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "note: %s\n", n)
	}
	if len(r.Faults) == 0 {
		fmt.Fprintln(&b, "faults: none")
	} else {
		fmt.Fprintln(&b, "faults:")
		for _, f := range r.Faults {
			to := fmtDur(f.To)
			if !f.Healed {
				to += " (not healed)"
			}
			targets := ""
			if len(f.Targets) > 0 {
				targets = " [" + strings.Join(f.Targets, " ") + "]"
			}
			fmt.Fprintf(&b, "  %s %s–%s%s\n", f.Name, fmtDur(f.From), to, targets)
		}
	}

	fmt.Fprintf(&b, "overlap:  %s — %s\n", r.Overlap.Verdict, r.Overlap.Reason)
	for i, o := range r.Overlap.Overlaps {
		if i == 10 {
			fmt.Fprintf(&b, "  … %d more listed in verdict.json\n", len(r.Overlap.Overlaps)-10)
			break
		}
		fmt.Fprintf(&b, "  %d. %s\n", i+1, o)
		fmt.Fprintf(&b, "     %s\n     %s\n", csLine(o.First), csLine(o.Second))
	}
	fmt.Fprintf(&b, "register: %s — %s (%s, %s, %s; porcupine %s in %s)\n", r.Register.Verdict, r.Register.Reason,
		plural(r.Register.Operations, "operation", "operations"), plural(r.Register.Segments, "segment", "segments"),
		plural(r.Register.Indeterminate, "indeterminate section", "indeterminate sections"), r.Register.Porcupine,
		fmtLatency(r.Register.Elapsed))
	for i, l := range r.Register.LostUpdates {
		if i == 10 {
			break
		}
		fmt.Fprintf(&b, "  %d. %s\n", i+1, l)
	}
	fmt.Fprintf(&b, "fencing:  %s — %s\n", r.Fencing.Verdict, r.Fencing.Reason)
	for i, f := range r.Fencing.Violations {
		if i == 10 {
			break
		}
		fmt.Fprintf(&b, "  %d. %s\n", i+1, f)
	}

	writeLiveness(&b, r.Liveness)
	return strings.TrimRight(b.String(), "\n")
}

// writeLiveness writes the liveness verdict with every stuck key, then the liveness figures as a table.
func writeLiveness(b *strings.Builder, l Liveness) {
	if l.Verdict != "" {
		fmt.Fprintf(b, "liveness: %s — %s\n", l.Verdict, l.Reason())
		for i, s := range l.Stuck {
			fmt.Fprintf(b, "  %d. %s (until %s; %s fault-free; %s)\n", i+1, s, fmtDur(s.Until), fmtDur(s.FaultFree),
				plural(s.Attempts, "attempt", "attempts"))
		}
	}
	fmt.Fprintln(b, "liveness figures:")
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
	cols := []LivenessFigures{l.All, l.InFaults, l.OutsideFaults}
	row := func(label string, f func(LivenessFigures) string) {
		fmt.Fprintf(tw, "  %s\t", label)
		for _, c := range cols {
			fmt.Fprintf(tw, "%s\t", f(c))
		}
		fmt.Fprintln(tw)
	}
	n := func(f func(LivenessFigures) int) func(LivenessFigures) string {
		return func(c LivenessFigures) string { return fmt.Sprint(f(c)) }
	}
	fmt.Fprintf(tw, "  \tall\tin faults\toutside\t\n")
	row("time", func(c LivenessFigures) string { return fmtDur(c.Duration) })
	row("acquires tried", n(func(c LivenessFigures) int { return c.Acquires.Tried }))
	row("granted", n(func(c LivenessFigures) int { return c.Acquires.Granted }))
	row("refused", n(func(c LivenessFigures) int { return c.Acquires.Refused }))
	row("indeterminate", n(func(c LivenessFigures) int { return c.Acquires.Indeterminate }))
	row("acquire p50", func(c LivenessFigures) string { return fmtLatency(c.AcquireP50) })
	row("acquire p99", func(c LivenessFigures) string { return fmtLatency(c.AcquireP99) })
	row("sections written", n(func(c LivenessFigures) int { return c.CS.Written }))
	row("abandoned", n(func(c LivenessFigures) int { return c.CS.Abandoned }))
	row("fenced", n(func(c LivenessFigures) int { return c.CS.Fenced }))
	row("indeterminate", n(func(c LivenessFigures) int { return c.CS.Indeterminate }))
	row("written/s", func(c LivenessFigures) string { return fmt.Sprintf("%.1f", c.CSPerSec) })
	_ = tw.Flush()
}

// csLine is one critical section of a counterexample.
func csLine(c CriticalSection) string {
	s := fmt.Sprintf("%s: read %d at %s, wrote %d at %s", c.Worker, c.Read, fmtDur(c.ReadAt), c.Wrote, fmtDur(c.WroteAt))
	if c.Fence != 0 {
		s += fmt.Sprintf(", fence %d", c.Fence)
	}
	if c.ValidAtRead != nil {
		s += ", validity left " + fmtDur(*c.ValidAtRead) + " at the read"
	}
	if c.ValidAtWrite != nil {
		s += ", " + fmtDur(*c.ValidAtWrite) + " at the write"
	}
	return s
}

// fmtDur prints a time since the run's start in seconds with two decimals, the resolution a person reads a
// timeline at.
func fmtDur(d time.Duration) string {
	return fmt.Sprintf("%.2fs", d.Seconds())
}

// spanStrings prints the two ends of an interval with just enough decimals to tell them apart.
func spanStrings(from, to time.Duration) (string, string) {
	for prec := 2; prec <= 9; prec++ {
		a := fmt.Sprintf("%.*fs", prec, from.Seconds())
		b := fmt.Sprintf("%.*fs", prec, to.Seconds())
		if a != b || from == to {
			return a, b
		}
	}
	return fmtDur(from), fmtDur(to)
}

func fmtLatency(d time.Duration) string {
	if d == 0 {
		return "-"
	}
	switch {
	case d < time.Millisecond:
		return d.Round(time.Microsecond).String()
	case d < time.Second:
		return d.Round(100 * time.Microsecond).String()
	}
	return d.Round(time.Millisecond).String()
}
