// Package scenarios loads fault scenarios: YAML files that say how long a run lasts, how many clients do what,
// and which faults strike when. Loading is strict (an unknown field, a bad duration, an unknown fault, node or
// group is an error naming the file and line), because a typo that silently drops a fault would turn a test of a
// lock into a test of nothing.
package scenarios

import (
	"fmt"
	"time"
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
	// Faults is the fault schedule.
	Faults []FaultSpec `yaml:"faults" json:"faults"`
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

// FaultSpec is one entry of a fault schedule. Which parameters apply depends on Kind; a fault refuses the ones
// it does not understand when the scenario is loaded.
type FaultSpec struct {
	// Kind names the fault (latency, partition, pause, …).
	Kind string `yaml:"kind" json:"kind"`
	// At is when the fault is first injected, from the start of the run.
	At Duration `yaml:"at" json:"at"`
	// For is how long it stays before it is healed; 0 means until the end of the run.
	For Duration `yaml:"for" json:"for,omitempty"`
	// Every repeats the fault with this period (measured from one injection to the next); 0 means once.
	Every Duration `yaml:"every" json:"every,omitempty"`

	// Nodes are target nodes (n1…); empty means the fault draws its targets from the seed.
	Nodes []string `yaml:"nodes" json:"nodes,omitempty"`
	// ClientGroups are target client groups (g1…); empty means all groups or a draw, as the fault says.
	ClientGroups []string `yaml:"groups" json:"groups,omitempty"`
	// Workers are target workers (g1w3…), for client faults; empty means a draw.
	Workers []string `yaml:"workers" json:"workers,omitempty"`
	// Count is how many targets to draw when none are named.
	Count int `yaml:"count" json:"count,omitempty"`

	// Shape is the partition's shape: isolate-node, majority-minority, bridge, random-halves.
	Shape string `yaml:"shape" json:"shape,omitempty"`
	// Mode is the partition's mode: blackhole (default, also drop: bytes vanish), hold (bytes are kept and
	// delivered at the heal, as TCP retransmits them) or reset (connections fail as soon as they carry a byte).
	Mode string `yaml:"mode" json:"mode,omitempty"`
	// Latency and Jitter parameterise the latency fault.
	Latency Duration `yaml:"latency" json:"latency,omitempty"`
	Jitter  Duration `yaml:"jitter" json:"jitter,omitempty"`
	// Delay is how long a crashed node stays down before it restarts.
	Delay Duration `yaml:"delay" json:"delay,omitempty"`
	// Jump is how far ahead a clock fault moves a node's wall clock, in whole seconds.
	Jump Duration `yaml:"jump" json:"jump,omitempty"`
	// Rate is how fast a clock-drift makes the nodes' wall clocks run against real time (1.01: one percent fast).
	Rate float64 `yaml:"rate" json:"rate,omitempty"`
	// Period is how long a clock-strobe holds each position (jumped, then real) while it is in force.
	Period Duration `yaml:"period" json:"period,omitempty"`
	// Lag is how long a failover's replica is cut off its primary before the primary dies: every write the
	// primary acknowledged in that time is lost with it.
	Lag Duration `yaml:"lag" json:"lag,omitempty"`
	// Stall is how long a client-stall freezes each chosen worker.
	Stall Duration `yaml:"stall" json:"stall,omitempty"`
	// Step is where a client-stall or client-crash strikes (a failpoint): a point of the lock protocol, or a list
	// of them from which each struck worker draws one its lock has: after-acquire, in-renewal, before-write (the
	// default), before-release, after-replies, between-setnx-and-expire, between-get-and-del,
	// between-get-and-pexpire, between-fence-rounds; any (every point) or protocol (the points inside the lock's
	// own operations: all but after-acquire and before-write). A worker whose lock has none of them is not
	// struck, and the injection says so.
	Step Steps `yaml:"step" json:"step,omitempty"`

	// Line is the line of the entry in its file, for error messages.
	Line int `yaml:"-" json:"-"`
}

// Range is an inclusive range of durations, drawn uniformly.
type Range struct {
	Min Duration `yaml:"min" json:"min"`
	Max Duration `yaml:"max" json:"max"`
}

// Targets lists the nodes, groups and workers a fault spec names, for messages.
func (f FaultSpec) String() string {
	s := f.Kind
	if f.Shape != "" {
		s += "/" + f.Shape
	}
	return fmt.Sprintf("%s at %s", s, f.At)
}

// Schedule returns the injection times and durations of the fault within a run of length total: injection i
// happens at At + i×Every and lasts For (or until the end of the run when For is 0).
func (f FaultSpec) Schedule(total time.Duration) []Window {
	var out []Window
	for at := f.At.D(); at < total; at += f.Every.D() {
		end := total
		if f.For > 0 && at+f.For.D() < total {
			end = at + f.For.D()
		}
		out = append(out, Window{From: at, To: end})
		if f.Every <= 0 {
			break
		}
	}
	return out
}

// Window is one active period of a fault.
type Window struct{ From, To time.Duration }
