// Package scenarios loads fault scenarios: YAML files that say how long a run lasts, how many clients do what,
// and which faults strike when. Loading is strict (an unknown field, a bad duration, an unknown fault, node or
// group is an error naming the file and line), because a typo that silently drops a fault would turn a test of a
// lock into a test of nothing.
//
// Each entry of a scenario's fault schedule is decoded by its kind's registry entry in package fault, into the
// kind's own type: the faults own their parameters. This package imports fault (fault does not import it), so the
// registry and every built-in kind are linked into, and registered in, any program that loads a scenario: loading
// cannot skip the faults' checks, and a kind nobody registered is an error, never a fault silently dropped.
package scenarios

import (
	"encoding/json"

	"gopkg.in/yaml.v3"

	"github.com/redlock-harness/redlock-harness/harness/fault"
	"github.com/redlock-harness/redlock-harness/lock"
)

// Scenario is one fault scenario. The zero values of optional fields are replaced by defaults at load time.
type Scenario struct {
	// Name is the file name without .yaml.
	Name string `yaml:"-" json:"name"`
	// Description says which question the scenario answers.
	Description string `yaml:"description" json:"description"`
	// Duration is how long the workload runs.
	Duration Duration `yaml:"duration" json:"duration"`
	// Nodes is the number of Redis nodes. Default 5.
	Nodes int `yaml:"nodes" json:"nodes"`
	// Groups is the number of client groups; each group reaches the nodes through its own links, so network faults
	// can treat groups differently. Default 3.
	Groups int `yaml:"groups" json:"groups"`
	// Workers is the number of workers per group. Default 8.
	Workers int `yaml:"workers" json:"workers"`
	// Keys is the number of lock keys the workers spread over. Default 1.
	Keys int `yaml:"keys" json:"keys"`
	// TTL is the lock's time to live. Default 1s.
	TTL Duration `yaml:"ttl" json:"ttl"`
	// Hold is how long a worker works inside its critical section, drawn uniformly per section.
	Hold Range `yaml:"hold" json:"hold"`
	// Think is the pause between a worker's release and its next acquire. Default 0–20ms.
	Think Range `yaml:"think" json:"think"`
	// Client is "careful" (checks its lease's validity before writing), "careless" (never checks) or "greedy"
	// (careful, and works until just before its lease's ValidUntil without renewing: a lock that over-states its
	// validity is caught).
	Client string `yaml:"client" json:"client"`
	// MinCriticalSections is the amount of completed work below which the verdict is unknown. Default 20.
	MinCriticalSections int `yaml:"min_critical_sections" json:"min_critical_sections"`
	// Strategies lists the strategies the scenario is meant for; empty means all.
	Strategies []string `yaml:"strategies" json:"strategies,omitempty"`
	// Lock overrides the strategies' options.
	Lock LockOptions `yaml:"lock" json:"lock"`
	// StrategyOptions sets strategies' own parameters, by strategy name, e.g. `lua-watchdog: {renewal: 2s}`: each
	// is decoded strictly into the strategy's own type (lock.Info.Params), so a key it does not take is an error
	// naming the file and line.
	StrategyOptions map[string]*StrategyParams `yaml:"strategy_options" json:"strategy_options,omitempty"`
	// Faults is the fault schedule: each entry's kind, timing (at, for, every) and the kind's own parameters and
	// targets, which its type in package fault documents (`redlock-harness list` names every kind).
	Faults []fault.Entry `yaml:"faults" json:"faults"`
	// Persistence is "none" (default) or "aof-always": how the nodes keep data across a crash.
	Persistence string `yaml:"persistence" json:"persistence,omitempty"`

	// File is where the scenario was loaded from.
	File string `yaml:"-" json:"file,omitempty"`
}

// LockOptions are the scenario's overrides of lock.Options; zero means the strategy default.
type LockOptions struct {
	AcquireTimeout Duration `yaml:"acquire_timeout" json:"acquire_timeout,omitempty"`
	Retries        int      `yaml:"retries" json:"retries,omitempty"`
	RetryDelay     Duration `yaml:"retry_delay" json:"retry_delay,omitempty"`
	NodeTimeout    Duration `yaml:"node_timeout" json:"node_timeout,omitempty"`
	DriftFactor    float64  `yaml:"drift_factor" json:"drift_factor,omitempty"`
}

// Range is an inclusive range of durations, drawn uniformly.
type Range struct {
	Min Duration `yaml:"min" json:"min"`
	Max Duration `yaml:"max" json:"max"`
}

// StrategyParams is one strategy's parameters as a scenario gives them: the YAML, then, once the scenario is
// validated, the strategy they configure.
type StrategyParams struct {
	node     yaml.Node
	strategy lock.Strategy
}

// UnmarshalYAML keeps the node: the strategy's own type decodes it when the scenario is validated.
func (p *StrategyParams) UnmarshalYAML(n *yaml.Node) error {
	p.node = *n
	return nil
}

// MarshalJSON records the configured strategy's parameters (config.json).
func (p *StrategyParams) MarshalJSON() ([]byte, error) { return json.Marshal(p.strategy) }

// Strategy returns st as the scenario configures it: the strategy its strategy_options make when it names st's
// strategy, st itself otherwise.
func (s *Scenario) Strategy(st lock.Strategy) lock.Strategy {
	if p, ok := s.StrategyOptions[st.Name()]; ok && p.strategy != nil {
		return p.strategy
	}
	return st
}
