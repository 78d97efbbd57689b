package checker

import (
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"

	"github.com/anishathalye/porcupine"
)

// visual keeps what the porcupine visualisation needs after Check returns.
type visual struct {
	run      *registerRun
	faults   []FaultWindow
	overlaps []Overlap
	lost     []LostUpdate
	maxOps   int
}

// WriteVisualization writes porcupine's interactive visualisation of the register check to path: every critical
// section per key and segment, the longest linearization found (and where it got stuck when there is a lost
// update), with the fault windows, the overlapping pairs and the lost updates drawn as annotations. A large run
// is cut down to the segments that matter (see Options.MaxVisualized). A Result that was not produced by Check
// writes an empty page.
func (r Result) WriteVisualization(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("checker: %w", err)
	}
	if err := r.Visualize(f); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// Visualize writes the visualisation that WriteVisualization writes to a file to w, for a report that embeds it.
func (r Result) Visualize(w io.Writer) (err error) {
	model := registerModel()
	defer func() {
		// The visualiser replays linearizations through the model and panics if one does not step; that would be
		// a bug here, but it must not take a finished run down with it.
		if p := recover(); p != nil {
			err = fmt.Errorf("checker: visualisation: %v", p)
		}
	}()
	if r.vis == nil || r.vis.run == nil {
		return porcupine.Visualize(model, porcupine.LinearizationInfo{}, w)
	}
	v := r.vis
	run := v.run
	info := run.info
	limit := v.maxOps
	if limit <= 0 {
		limit = DefaultMaxVisualized
	}
	total := 0
	for _, p := range run.parts {
		total += len(p)
	}
	lo, hi := int64(math.MinInt64), int64(math.MaxInt64)
	var note []porcupine.Annotation
	if total > limit {
		chosen := v.choose(limit)
		var ops []porcupine.Operation
		lo, hi = math.MaxInt64, math.MinInt64
		for _, p := range chosen {
			ops = append(ops, run.parts[p]...)
			a, b := partRange(run.parts[p])
			lo, hi = min(lo, a), max(hi, b)
		}
		_, info = porcupine.CheckOperationsVerbose(model, ops, run.timeout)
		note = append(note, porcupine.Annotation{Tag: "note", Start: lo,
			Description: fmt.Sprintf("%d of %d segments shown", len(chosen), len(run.parts)),
			Details:     fmt.Sprintf("the run has %d operations; shown: the segments with violations, else the first ones", total)})
	}
	info.AddAnnotations(append(note, v.annotations(lo, hi)...))
	return porcupine.Visualize(model, info, w)
}

// choose picks the partitions to draw within a budget of operations: illegal ones first, then those holding an
// overlap or a lost update, then the earliest.
func (v *visual) choose(limit int) []int {
	run := v.run
	var order []int
	seen := map[int]bool{}
	add := func(p int) {
		if p >= 0 && p < len(run.parts) && !seen[p] {
			seen[p] = true
			order = append(order, p)
		}
	}
	for _, p := range run.illegal {
		add(p)
	}
	holds := func(key string, t int64) {
		for p, part := range run.parts {
			if len(part) == 0 || part[len(part)-1].Input.(*regOp).key != key {
				continue
			}
			if a, b := partRange(part); a <= t && t <= b {
				add(p)
			}
		}
	}
	for _, o := range v.overlaps {
		holds(o.Key, int64(o.From))
	}
	for _, l := range v.lost {
		holds(l.Key, int64(l.ReadAt))
	}
	for p := range run.parts {
		add(p)
	}
	var chosen []int
	n := 0
	for _, p := range order {
		if len(chosen) > 0 && n+len(run.parts[p]) > limit {
			continue
		}
		chosen = append(chosen, p)
		n += len(run.parts[p])
	}
	slices.Sort(chosen)
	return chosen
}

// partRange is the time a partition covers, from its first call to its last finite return.
func partRange(part []porcupine.Operation) (int64, int64) {
	lo, hi := int64(math.MaxInt64), int64(math.MinInt64)
	for _, o := range part {
		lo = min(lo, o.Call)
		if o.Return != never {
			hi = max(hi, o.Return)
		} else {
			hi = max(hi, o.Call)
		}
	}
	return lo, hi
}

// annotations draws the fault windows, overlapping pairs and lost updates that touch [lo, hi].
func (v *visual) annotations(lo, hi int64) []porcupine.Annotation {
	var out []porcupine.Annotation
	in := func(a, b int64) bool { return a <= hi && b >= lo }
	for _, f := range v.faults {
		if !in(int64(f.From), int64(f.To)) {
			continue
		}
		details := "targets: " + strings.Join(f.Targets, " ")
		if !f.Healed {
			details += " (not healed)"
		}
		out = append(out, porcupine.Annotation{Tag: "faults", Start: int64(f.From), End: int64(f.To),
			Description: f.Name, Details: details, BackgroundColor: "#efaefc"})
	}
	for _, o := range v.overlaps {
		if !in(int64(o.From), int64(o.To)) {
			continue
		}
		out = append(out, porcupine.Annotation{Tag: "overlaps " + o.Key, Start: int64(o.From), End: int64(o.To),
			Description: fmt.Sprintf("%s ∥ %s: %s", o.First.Worker, o.Second.Worker, o.Cause), Details: o.String(),
			BackgroundColor: "#ff9191"})
	}
	for _, l := range v.lost {
		if !in(int64(l.ReadAt), int64(l.ReadAt)) {
			continue
		}
		a := porcupine.Annotation{Tag: "lost updates " + l.Key, Start: int64(l.ReadAt), Description: "lost update",
			Details: l.String(), BackgroundColor: "#ffcc80"}
		out = append(out, a)
	}
	if len(v.run.clients) > 0 {
		names := make([]string, len(v.run.clients))
		for w, i := range v.run.clients {
			if i < len(names) {
				names[i] = w
			}
		}
		legend := make([]string, 0, len(names))
		for i, w := range names {
			legend = append(legend, fmt.Sprintf("%d=%s", i, w))
		}
		start := lo
		if start == math.MinInt64 {
			start = math.MaxInt64
			for _, p := range v.run.parts {
				if len(p) > 0 {
					a, _ := partRange(p)
					start = min(start, a)
				}
			}
		}
		out = append(out, porcupine.Annotation{Tag: "clients", Start: start, Description: "client ids",
			Details: strings.Join(legend, " ") + fmt.Sprintf(" %d=segment start", len(names))})
	}
	return out
}
