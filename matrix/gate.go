package matrix

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"

	"github.com/redlock-harness/redlock-harness/checker"
	"github.com/redlock-harness/redlock-harness/scenarios"
)

// GateCell is a cell held to its expectation.
type GateCell struct {
	CellResult
	Expect scenarios.Expectation `json:"expect"`
	Pass   bool                  `json:"pass"`
	// Message says why a cell failed: the counterexample of an unexpected violation, or how often an unsafe
	// lock went uncaught.
	Message string `json:"message,omitempty"`
}

// Evaluate holds every cell of m that has an expectation to it. A safe cell fails on any invalid, unknown or
// errored run; an unsafe cell fails when fewer than share of its seeds caught it (unknown and errored runs do
// not count as caught); a stalls cell fails on any run that is valid, errored, or unknown for another reason
// than too little work. A rare cell (caught on a few seeds only when measured) fails only on errored runs or runs
// unknown for another reason than too little work: its catches are reported, not required.
func Evaluate(m *Matrix, exp *scenarios.Expectations, share float64) []GateCell {
	var out []GateCell
	for _, c := range m.Cells {
		if e, ok := exp.Lookup(c.Scenario, c.Strategy); ok {
			out = append(out, evaluateCell(c, e, share))
		}
	}
	return out
}

// evaluateCell holds one measured cell to its expectation e and to its liveness expectation; the cell passes
// when neither has anything to say.
func evaluateCell(c CellResult, e scenarios.Expectation, share float64) GateCell {
	g := GateCell{CellResult: c, Expect: e, Pass: true}
	if len(c.Runs) == 0 {
		g.Pass = false
		g.Message = fmt.Sprintf("not measured: no run of %s under %s", c.Strategy, c.Scenario)
		return g
	}
	if msg := expectationFailure(c, e, share, badRuns(c, e)); msg != "" {
		g.Pass, g.Message = false, msg
	}
	if msg := stuckFailure(c, e, share); msg != "" {
		if g.Pass {
			g.Message = msg
		} else {
			g.Message += "\n" + msg
		}
		g.Pass = false
	}
	return g
}

// badRuns lists the cell's runs that count against it whatever it is expected to do, one line each: runs the
// harness could not make, runs unknown for another reason than a stall the expectation allows, and, for a cell
// expected safe, invalid runs.
func badRuns(c CellResult, e scenarios.Expectation) []string {
	var bad []string
	for _, r := range c.Runs {
		switch {
		case r.Verdict == "error":
			bad = append(bad, fmt.Sprintf("seed %d: harness could not run: %s", r.Seed, r.Err))
		case (r.Verdict == NotApplicable) != (e.Expect == scenarios.NotApplicable):
			bad = append(bad, fmt.Sprintf("seed %d: %s: %s", r.Seed, r.Verdict, r.Summary))
		case r.Verdict == string(checker.Unknown) && (e.MayStall || e.Expect == scenarios.Rare) && r.Stalled():
			// tolerated: the lock lost its availability on this seed, as measured
		case r.Verdict == string(checker.Unknown):
			bad = append(bad, fmt.Sprintf("seed %d: unknown: %s (%s)", r.Seed, r.Summary, r.Dir))
		case e.Expect == scenarios.Safe && r.Verdict == string(checker.Invalid):
			bad = append(bad, fmt.Sprintf("seed %d: %s (%s)", r.Seed, r.Summary, r.Dir))
		}
	}
	return bad
}

// expectationFailure says why the cell misses its expectation (safe, stalls, rare or unsafe) given its bad runs,
// or returns "" when it meets it.
func expectationFailure(c CellResult, e scenarios.Expectation, share float64, bad []string) string {
	switch e.Expect {
	case scenarios.Safe:
		if e.MayStall && c.Count(string(checker.Valid)) == 0 && len(bad) == 0 {
			bad = append(bad, "no seed made enough progress for a verdict: nothing shows the lock safe")
		}
		if len(bad) > 0 {
			return fmt.Sprintf("%s is expected safe under %s (%s) but:\n%s", c.Strategy, c.Scenario, e.Why, strings.Join(bad, "\n"))
		}
	case scenarios.Stalls:
		return stallsFailure(c, e)
	case scenarios.Rare:
		if len(bad) > 0 {
			return fmt.Sprintf("%s is expected to be caught now and then under %s (%s) but:\n%s", c.Strategy, c.Scenario, e.Why, strings.Join(bad, "\n"))
		}
	case scenarios.Unsafe:
		return unsafeFailure(c, e, share, bad)
	case scenarios.NotApplicable:
		if len(bad) > 0 {
			return fmt.Sprintf("%s is expected not to apply to %s (%s) but:\n%s", c.Scenario, c.Strategy, e.Why, strings.Join(bad, "\n"))
		}
	}
	return ""
}

// stallsFailure holds a cell expected to stall to it: every run must be invalid or stalled, so a run that made
// enough progress for a verdict, or could not run, fails it. It returns "" when the cell passes.
func stallsFailure(c CellResult, e scenarios.Expectation) string {
	var moved []string
	for _, r := range c.Runs {
		switch {
		case r.Verdict == string(checker.Invalid), r.Stalled():
		case r.Verdict == "error":
			moved = append(moved, fmt.Sprintf("seed %d: harness could not run: %s", r.Seed, r.Err))
		default:
			moved = append(moved, fmt.Sprintf("seed %d: %s: %s (%s)", r.Seed, r.Verdict, r.Summary, r.Dir))
		}
	}
	if len(moved) == 0 {
		return ""
	}
	return fmt.Sprintf("%s is expected to stall under %s (%s) but made enough progress for a verdict, or could not run; measure the cell again:\n%s",
		c.Strategy, c.Scenario, e.Why, strings.Join(moved, "\n"))
}

// unsafeFailure holds a cell expected unsafe to it: at least the required share of its seeds (the cell's own
// share when lower than the gate's) must have caught it, and the bad runs are listed when they did not. It
// returns "" when the cell passes.
func unsafeFailure(c CellResult, e scenarios.Expectation, share float64, bad []string) string {
	cellShare := share
	if e.Share > 0 && e.Share < share {
		cellShare = e.Share
	}
	n, inv := len(c.Runs), c.Count(string(checker.Invalid))
	need := RequiredCatches(n, cellShare)
	if inv >= need {
		return ""
	}
	msg := fmt.Sprintf("not caught: %s is expected unsafe under %s (%s) but was found invalid on %d of %d seeds (need %d)",
		c.Strategy, c.Scenario, e.Why, inv, n, need)
	if len(bad) > 0 {
		msg += ":\n" + strings.Join(bad, "\n")
	}
	return msg
}

// stuckFailure holds a cell to its liveness expectation: a lock measured never stuck that now is, or a lock
// known to get stuck that the harness no longer finds stuck. It returns "" when the cell passes.
func stuckFailure(c CellResult, e scenarios.Expectation, share float64) string {
	n, stuck := len(c.Runs), c.StuckCount()
	switch e.Stuck {
	case scenarios.StuckSometimes:
		return ""
	case scenarios.StuckAlways:
		if need := RequiredCatches(n, share); stuck < need {
			return fmt.Sprintf("not stuck: %s is known to leave a lock nobody can take under %s, but was found stuck on %d of %d seeds (need %d)",
				c.Strategy, c.Scenario, stuck, n, need)
		}
		return ""
	}
	if stuck == 0 {
		return ""
	}
	var first string
	for _, r := range c.Runs {
		if r.Live == "stuck" {
			first = fmt.Sprintf("seed %d: %s (%s)", r.Seed, r.Stuck, r.Dir)
			break
		}
	}
	return fmt.Sprintf("stuck: %s never left a lock nobody could take under %s when measured, but did on %d of %d seeds: %s",
		c.Strategy, c.Scenario, stuck, n, first)
}

// Failed returns the cells that did not pass.
func Failed(cells []GateCell) []GateCell {
	var out []GateCell
	for _, c := range cells {
		if !c.Pass {
			out = append(out, c)
		}
	}
	return out
}

type junitSuites struct {
	XMLName xml.Name     `xml:"testsuites"`
	Suites  []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Time     float64     `xml:"time,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      float64       `xml:"time,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// WriteJUnit writes one test case per cell, with the counterexample in the failure text, so that CI systems show
// which lock broke and how.
func WriteJUnit(w io.Writer, m *Matrix, cells []GateCell) error {
	s := junitSuite{Name: "redlock-harness gate", Time: m.Elapsed.Seconds()}
	for _, c := range cells {
		jc := junitCase{
			Name:      fmt.Sprintf("%s/%s expected %s", c.Scenario, c.Strategy, c.Expect.Expect),
			Classname: "gate." + c.Scenario,
			SystemOut: c.Headline(),
		}
		if !c.Pass {
			first := strings.SplitN(c.Message, "\n", 2)[0]
			jc.Failure = &junitFailure{Message: first, Type: c.Expect.Expect, Text: c.Message}
			s.Failures++
		}
		s.Cases = append(s.Cases, jc)
		s.Tests++
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(junitSuites{Suites: []junitSuite{s}}); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}
