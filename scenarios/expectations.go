package scenarios

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"

	"gopkg.in/yaml.v3"

	"github.com/redlock-harness/redlock-harness/lock"
)

// Expected outcomes of a cell.
const (
	// Safe: the strategy must never be found invalid under the scenario, on any seed.
	Safe = "safe"
	// Unsafe: the harness must catch the strategy violating mutual exclusion on (nearly) every seed; a run that
	// does not is the harness going blind.
	Unsafe = "unsafe"
	// Stalls: the strategy makes too little progress under the scenario for any verdict (DESIGN's "L",
	// availability loss): every seed must end unknown for too little work, or invalid (a lock that also breaks
	// is still caught). A seed that is valid, or unknown for another reason, fails the cell: the strategy or the
	// workload changed, and the cell must be measured again.
	Stalls = "stalls"
	// Rare: the strategy was caught violating mutual exclusion on a few seeds only (1 to 3 of 10 when measured).
	// The violation is real (a counterexample proves it), but ten seeds cannot tell a harness gone blind from bad
	// luck, so the gate does not hold the cell to a share of catches: it reports them, and fails the cell only
	// when a run could not be made or was unknown for another reason than too little work.
	Rare = "rare"
	// NotApplicable: the scenario asks for a fault the strategy's system cannot do (a clock jump on etcd, whose
	// leases do not follow the wall clock), so every run is refused, with the reason; the why says why that is right.
	NotApplicable = "n/a"
)

// Expectation is one cell of the truth table: what a strategy is expected to do under a scenario, and why.
type Expectation struct {
	Scenario string `json:"scenario"`
	Strategy string `json:"strategy"`
	Expect   string `json:"expect"`
	Why      string `json:"why"`
	// Share, for an unsafe cell, is the share of seeds it must be caught on when that is lower than the gate's
	// (a violation that needs an unlucky interleaving within the run: measured, and written down as such so that
	// the gate still fails when the harness stops catching it at all). 0 means the gate's share.
	Share float64 `json:"share,omitempty"`
	// MayStall, for a safe cell, tolerates seeds that did too little work for a verdict (the lock lost its
	// availability under the fault, as measured), provided at least one seed was judged valid and none invalid.
	MayStall bool `json:"may_stall,omitempty"`
	// Stuck is the liveness expectation: StuckNever (the default: a run that ends with a stuck lock fails the
	// cell), StuckAlways (the harness must find the lock stuck on the gate's share of seeds: a lock known to get
	// stuck), or StuckSometimes (measured stuck on some seeds only: reported, not required).
	Stuck string `json:"stuck,omitempty"`
	Line  int    `json:"-"`
}

// Liveness expectations of a cell (Expectation.Stuck).
const (
	StuckNever     = "never"
	StuckAlways    = "always"
	StuckSometimes = "sometimes"
)

// Steady reports whether the cell came out the same on every measured seed: no catch share below the gate's and
// no tolerated stalls. Only steady cells can be held on one or two seeds without the gate failing by chance, so a
// short CI profile holds those alone.
func (e Expectation) Steady() bool {
	return e.Share == 0 && !e.MayStall && e.Expect != Rare && e.Stuck != StuckSometimes
}

// Expectations is the truth table the gate holds the harness to.
type Expectations struct {
	File  string
	Cells []Expectation
}

// Lookup returns the expectation for a cell.
func (e *Expectations) Lookup(scenario, strategy string) (Expectation, bool) {
	for _, c := range e.Cells {
		if c.Scenario == scenario && c.Strategy == strategy {
			return c, true
		}
	}
	return Expectation{}, false
}

// LoadExpectations reads an expectations file; an empty path means the built-in scenarios/expectations.yaml.
//
// The format maps scenario → strategy → {expect: safe|unsafe|rare|stalls, why: one line, share: for an unsafe cell
// caught on fewer seeds than the gate asks, the measured floor; may_stall: for a safe cell whose lock sometimes
// makes too little progress for a verdict; stuck: never (default), always or sometimes, the liveness verdict}. Loading is strict: an
// unknown scenario, strategy or field, or an expectation other than those four, is an error with file and line.
func LoadExpectations(path string) (*Expectations, error) {
	file := path
	var data []byte
	var err error
	if path == "" {
		file = "scenarios/expectations.yaml"
		data, err = builtin.ReadFile("expectations.yaml")
	} else {
		data, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("expectations: %w", err)
	}
	return ParseExpectations(file, data)
}

// ParseExpectations parses the text of an expectations file.
func ParseExpectations(file string, data []byte) (*Expectations, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, yamlErrors(file, err)
	}
	out := &Expectations{File: file}
	if root.Kind != yaml.DocumentNode || len(root.Content) == 0 {
		return nil, &FileError{File: file, Msg: "empty expectations file"}
	}
	m := root.Content[0]
	var errs []error
	bad := func(line int, format string, args ...any) {
		errs = append(errs, &FileError{File: file, Line: line, Msg: fmt.Sprintf(format, args...)})
	}
	if m.Kind != yaml.MappingNode {
		return nil, &FileError{File: file, Line: m.Line, Msg: "expected a mapping of scenario → strategy → {expect, why}"}
	}
	known := map[string]bool{}
	for _, n := range Names() {
		known[n] = true
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		sk, sv := m.Content[i], m.Content[i+1]
		if !known[sk.Value] {
			bad(sk.Line, "unknown scenario %q", sk.Value)
			continue
		}
		if sv.Kind != yaml.MappingNode {
			bad(sv.Line, "%s: expected a mapping of strategy → {expect, why}", sk.Value)
			continue
		}
		for j := 0; j+1 < len(sv.Content); j += 2 {
			tk, tv := sv.Content[j], sv.Content[j+1]
			if _, err := lock.Lookup(tk.Value); err != nil {
				bad(tk.Line, "%v", err)
				continue
			}
			cell := Expectation{Scenario: sk.Value, Strategy: tk.Value, Line: tk.Line}
			id := cell.Scenario + "/" + cell.Strategy
			if seen[id] {
				bad(tk.Line, "%s listed twice", id)
			}
			seen[id] = true
			if tv.Kind != yaml.MappingNode {
				bad(tv.Line, "%s: expected {expect: safe|unsafe|rare|stalls, why: …}", id)
				continue
			}
			for k := 0; k+1 < len(tv.Content); k += 2 {
				fk, fv := tv.Content[k], tv.Content[k+1]
				switch fk.Value {
				case "expect":
					cell.Expect = fv.Value
				case "why":
					cell.Why = fv.Value
				case "may_stall":
					switch fv.Value {
					case "true":
						cell.MayStall = true
					case "false":
					default:
						bad(fv.Line, "%s: may_stall must be true or false, got %q", id, fv.Value)
					}
				case "stuck":
					switch fv.Value {
					case StuckNever, StuckAlways, StuckSometimes:
						cell.Stuck = fv.Value
					default:
						bad(fv.Line, "%s: stuck must be never, always or sometimes, got %q", id, fv.Value)
					}
				case "share":
					v, err := strconv.ParseFloat(fv.Value, 64)
					if err != nil || v <= 0 || v > 1 {
						bad(fv.Line, "%s: share must be a number in (0, 1], got %q", id, fv.Value)
					}
					cell.Share = v
				default:
					bad(fk.Line, "%s: unknown field %q (fields: expect, why, share, may_stall, stuck)", id, fk.Value)
				}
			}
			if cell.Expect != Safe && cell.Expect != Unsafe && cell.Expect != Stalls && cell.Expect != Rare && cell.Expect != NotApplicable {
				bad(tk.Line, "%s: expect must be safe, unsafe, rare, stalls or n/a, got %q", id, cell.Expect)
			}
			if cell.MayStall && cell.Expect != Safe {
				bad(tk.Line, "%s: may_stall applies to safe cells only", id)
			}
			if cell.Share > 0 && cell.Expect != Unsafe {
				bad(tk.Line, "%s: share applies to unsafe cells only", id)
			}
			if cell.Why == "" {
				bad(tk.Line, "%s: give a one-line reason (why: …)", id)
			}
			out.Cells = append(out.Cells, cell)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	sort.SliceStable(out.Cells, func(i, j int) bool {
		if out.Cells[i].Scenario != out.Cells[j].Scenario {
			return out.Cells[i].Scenario < out.Cells[j].Scenario
		}
		return out.Cells[i].Strategy < out.Cells[j].Strategy
	})
	return out, nil
}
