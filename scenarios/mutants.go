package scenarios

import (
	"errors"
	"fmt"
	"os"
	"sort"

	"gopkg.in/yaml.v3"

	"github.com/redlock-harness/redlock-harness/lock"
)

// MutantPlan says, for one mutant (a strategy with one planted bug, lock.Mutants), which scenarios are expected to
// catch it where its healthy twin stays valid, and why; or, when no realistic fault exposes the bug, why not. The
// scenarios are a hypothesis: `redlock-harness mutants` measures them, and a mutant counts as caught only where
// the measurement says so.
type MutantPlan struct {
	Mutant string `json:"mutant"`
	// KilledBy lists the scenarios expected to catch the mutant.
	KilledBy []string `json:"killed_by,omitempty"`
	// Why says what in those scenarios exposes the bug.
	Why string `json:"why,omitempty"`
	// Uncaught, when KilledBy is empty, says why no realistic fault catches the mutant.
	Uncaught string `json:"uncaught,omitempty"`
	// CaughtAs is the verdict that catches the bug: "invalid" (the default: it breaks mutual exclusion) or "stuck"
	// (a liveness bug: it leaves a key nobody can take, and the liveness verdict is the one that must see it).
	CaughtAs string `json:"caught_as,omitempty"`
	Line     int    `json:"-"`
}

// The verdicts a mutant can be caught by (MutantPlan.CaughtAs).
const (
	CaughtInvalid = "invalid"
	CaughtStuck   = "stuck"
)

// MutantPlans is the catalogue of mutant plans, one per mutant.
type MutantPlans struct {
	File  string
	Plans []MutantPlan
}

// Lookup returns a mutant's plan.
func (m *MutantPlans) Lookup(mutant string) (MutantPlan, bool) {
	for _, p := range m.Plans {
		if p.Mutant == mutant {
			return p, true
		}
	}
	return MutantPlan{}, false
}

// LoadMutantPlans reads a mutants file; an empty path means the built-in scenarios/mutants.yaml. Loading is
// strict: an unknown mutant, scenario or field, a mutant listed twice or missing, a plan with neither scenarios
// nor a reason for having none, is an error with file and line.
func LoadMutantPlans(path string) (*MutantPlans, error) {
	file := path
	var data []byte
	var err error
	if path == "" {
		file = "scenarios/mutants.yaml"
		data, err = builtin.ReadFile("mutants.yaml")
	} else {
		data, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("mutants: %w", err)
	}
	return ParseMutantPlans(file, data)
}

// ParseMutantPlans parses the text of a mutants file: mutant → {killed_by: [scenario…], why: …} or
// mutant → {uncaught: why no realistic fault catches it}.
func ParseMutantPlans(file string, data []byte) (*MutantPlans, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, yamlErrors(file, err)
	}
	if root.Kind != yaml.DocumentNode || len(root.Content) == 0 || root.Content[0].Kind != yaml.MappingNode {
		return nil, &FileError{File: file, Msg: "expected a mapping of mutant → {killed_by, why} or {uncaught}"}
	}
	m := root.Content[0]
	out := &MutantPlans{File: file}
	var errs []error
	bad := func(line int, format string, args ...any) {
		errs = append(errs, &FileError{File: file, Line: line, Msg: fmt.Sprintf(format, args...)})
	}
	known := map[string]bool{}
	for _, n := range Names() {
		known[n] = true
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		info, err := lock.Lookup(k.Value)
		if err != nil || info.Twin == "" {
			bad(k.Line, "unknown mutant %q (see `redlock-harness list --mutants`)", k.Value)
			continue
		}
		if seen[k.Value] {
			bad(k.Line, "%s listed twice", k.Value)
		}
		seen[k.Value] = true
		p := MutantPlan{Mutant: k.Value, Line: k.Line}
		if v.Kind != yaml.MappingNode {
			bad(v.Line, "%s: expected {killed_by: [...], why: ...} or {uncaught: ...}", k.Value)
			continue
		}
		for j := 0; j+1 < len(v.Content); j += 2 {
			fk, fv := v.Content[j], v.Content[j+1]
			switch fk.Value {
			case "killed_by":
				if err := fv.Decode(&p.KilledBy); err != nil {
					bad(fv.Line, "%s: killed_by must be a list of scenarios", k.Value)
				}
				for _, s := range p.KilledBy {
					if !known[s] {
						bad(fv.Line, "%s: unknown scenario %q", k.Value, s)
					}
				}
			case "why":
				p.Why = fv.Value
			case "uncaught":
				p.Uncaught = fv.Value
			case "caught_as":
				if fv.Value != CaughtInvalid && fv.Value != CaughtStuck {
					bad(fv.Line, "%s: caught_as is %s or %s, not %q", k.Value, CaughtInvalid, CaughtStuck, fv.Value)
				}
				p.CaughtAs = fv.Value
			default:
				bad(fk.Line, "%s: unknown field %q (fields: killed_by, why, caught_as, uncaught)", k.Value, fk.Value)
			}
		}
		if p.CaughtAs == "" {
			p.CaughtAs = CaughtInvalid
		}
		switch {
		case len(p.KilledBy) > 0 && p.Why == "":
			bad(k.Line, "%s: say why those scenarios catch it (why: …)", k.Value)
		case len(p.KilledBy) == 0 && p.Uncaught == "":
			bad(k.Line, "%s: name the scenarios that catch it (killed_by), or say why none can (uncaught: …)", k.Value)
		case len(p.KilledBy) > 0 && p.Uncaught != "":
			bad(k.Line, "%s: killed_by and uncaught exclude each other", k.Value)
		}
		out.Plans = append(out.Plans, p)
	}
	for _, mu := range lock.Mutants() {
		if !seen[mu.Name] {
			bad(0, "mutant %s has no plan", mu.Name)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	sort.Slice(out.Plans, func(i, j int) bool { return out.Plans[i].Mutant < out.Plans[j].Mutant })
	return out, nil
}
