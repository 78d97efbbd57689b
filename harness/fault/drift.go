package fault

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/redlock-harness/redlock-harness/harness/cluster"
)

// clockDrift makes the chosen nodes' wall clocks (all nodes when none are named) run `rate` times as fast as real
// time for the whole run: 1.01 is one percent fast. Redis counts a key's TTL on its own clock, so on a fast node
// every lock expires early by that share of its TTL, while its holder counts its lease on the client's clock.
// Redlock allows for exactly this: its validity keeps back a drift allowance (1 % of the TTL plus 2 ms); a lock
// that keeps back nothing over-states its validity by up to rate−1 of the TTL, which a client that works to the
// edge of its lease (client: greedy) turns into a write after another client took the lock.
//
// libfaketime gives the rate, and reads it once, when the process starts: a drift is a property of the nodes,
// set when they start (Needs), not something injected and healed. The fault therefore lasts the whole run (it
// takes no at, for or every); its injection checks that each target really runs at the rate and records it, and its
// heal has nothing to undo.
type clockDrift struct {
	NodeTargets `yaml:",inline"`
	// Rate is how fast the nodes' wall clocks run against real time (1.01: one percent fast).
	Rate float64 `yaml:"rate" json:"rate,omitempty"`
}

func (f *clockDrift) Name() string { return "clock-drift" }

// Needs asks for the chosen nodes (all when none are named) to start under libfaketime at the rate.
func (f *clockDrift) Needs(spec *cluster.Spec) {
	spec.FakeClock = true
	if spec.ClockRates == nil {
		spec.ClockRates = map[string]float64{}
	}
	for _, n := range f.targets(cluster.NodeNames(spec.Nodes)) {
		spec.ClockRates[n] = f.Rate
	}
}

// targets returns the named nodes, or all of them.
func (f *clockDrift) targets(all []string) []string {
	if len(f.Nodes) == 0 {
		return all
	}
	return f.Nodes
}

func (f *clockDrift) Validate(t Timing) error {
	if t.At != 0 || t.For != 0 || t.Every != 0 {
		return errors.New("clock-drift lasts the whole run (a clock's rate is set when its node starts): it takes no at, for or every")
	}
	if f.Rate < 0.5 || f.Rate > 2 || f.Rate == 1 {
		return fmt.Errorf("clock-drift needs rate: between 0.5 and 2, not 1 (1.01: one percent fast), got %g", f.Rate)
	}
	return nil
}

func (f *clockDrift) Check(env *Env) error {
	if _, ok := env.Backend.(cluster.ClockRater); !ok {
		return fmt.Errorf("clock-drift: %w", cluster.Lacking(env.Backend, "clock-rate", "run a node's clock at another rate"))
	}
	return nil
}

func (f *clockDrift) Inject(_ context.Context, env *Env) (Injection, error) {
	r, ok := env.Backend.(cluster.ClockRater)
	if !ok {
		return Injection{}, f.Check(env)
	}
	targets := f.targets(env.NodeNames())
	var wrong []string
	for _, n := range targets {
		i, err := env.NodeIndex(n)
		if err != nil {
			return Injection{}, err
		}
		if got := r.ClockRate(i); math.Abs(got-f.Rate) > 1e-9 {
			wrong = append(wrong, fmt.Sprintf("%s runs at x%g", n, got))
			continue
		}
		env.note(n, fmt.Sprintf("wall clock runs at x%g of real time since the node started", f.Rate))
	}
	if len(wrong) > 0 {
		return Injection{}, fmt.Errorf("clock-drift: the nodes were not started at x%g: %s", f.Rate, strings.Join(wrong, ", "))
	}
	return Injection{Targets: targets, Heal: func(context.Context) error { return nil },
		Note: fmt.Sprintf("clocks at x%g of real time for the whole run", f.Rate)}, nil
}

func init() {
	Register(Kind{
		Name:    "clock-drift",
		Summary: "runs chosen nodes' wall clocks (all by default) at `rate` of real time for the whole run: TTLs run out early",
		New:     func() Fault { return &clockDrift{} },
	})
}
