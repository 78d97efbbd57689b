// Package fault is the nemesis: the faults a scenario can inject (network latency and partitions through
// Toxiproxy, node pauses through the backend, …), a registry that decodes each entry of a scenario's fault schedule
// into its kind's own type, and the scheduler that injects and heals them on time and records each step in the
// history. Every fault returns its own heal, and the scheduler calls every outstanding heal on the way out, error or
// Ctrl-C included.
//
// A fault kind is one file: a type whose YAML fields are its parameters and targets, registered in an init(). The
// package does not import package scenarios; scenarios imports it, so that loading a scenario always decodes and
// checks its faults with every built-in kind registered (see Entry).
package fault

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"

	"github.com/redlock-harness/redlock-harness/harness/cluster"
	"github.com/redlock-harness/redlock-harness/harness/netem"
	"github.com/redlock-harness/redlock-harness/harness/workload"
	"github.com/redlock-harness/redlock-harness/history"
)

// Fault is one kind of trouble, configured from a scenario entry: the kind's type, with the entry's parameters.
type Fault interface {
	// Name is the fault's kind, as written in scenarios.
	Name() string
	// Inject makes the fault happen and says how to undo it. Targets drawn at random come from env.Rand. It must not
	// change the fault: a scenario loaded once may run several times at once.
	Inject(ctx context.Context, env *Env) (Injection, error)
}

// Injection is a fault that is in force: what it hit and how to heal it.
type Injection struct {
	// Targets name what the fault hit: links ("g1->n2"), nodes ("n3"), workers ("g2w5").
	Targets []string
	// Heal undoes the fault. It must be safe to call once, even after the run's context has ended.
	Heal func(ctx context.Context) error
	// Note says what a person should know of the injection (a target the fault could not act on), or "".
	Note string
}

// Checker is implemented by faults that need something of the backend (a way to pause a node, to restart it);
// the harness calls Check before the run starts so that an impossible scenario is refused up front.
type Checker interface {
	Check(env *Env) error
}

// Env is what a fault can act on.
type Env struct {
	Backend  cluster.Backend
	Nodes    []cluster.Node
	Net      *netem.Net
	Workload *workload.Workload
	// Groups is the scenario's number of client groups (g1…gG), whose links network faults cut.
	Groups int
	// Rand draws random targets; the scheduler derives it from the run's seed and the fault's position.
	Rand *rand.Rand
	// Warn receives what a person watching the run should know (a heal that timed out); nil drops it.
	Warn func(msg string)
	// Record is the run's node record, told what the nodes cannot tell by themselves (a replica promoted in a
	// node's place, a moved clock); nil when the run keeps none.
	Record NodeRecord
}

// NodeRecord is the part of the node record (record.Recorder) faults tell things to.
type NodeRecord interface {
	Moved(node, addr, why string)
	Note(node, what string)
}

// note tells the node record, when there is one.
func (e *Env) note(node, what string) {
	if e.Record != nil {
		e.Record.Note(node, what)
	}
}

// NodeNames returns n1…nN.
func (e *Env) NodeNames() []string {
	out := make([]string, len(e.Nodes))
	for i, n := range e.Nodes {
		out[i] = n.Name
	}
	return out
}

// GroupNames returns g1…gG.
func (e *Env) GroupNames() []string {
	out := make([]string, e.Groups)
	for i := range out {
		out[i] = workload.GroupName(i)
	}
	return out
}

// NodeIndex returns the 0-based index of a node name.
func (e *Env) NodeIndex(name string) (int, error) {
	for i, n := range e.Nodes {
		if n.Name == name {
			return i, nil
		}
	}
	return 0, fmt.Errorf("no node %q", name)
}

// pick returns the named targets, or n distinct ones drawn from all.
func pick(r *rand.Rand, named []string, all []string, n int) []string {
	if len(named) > 0 {
		return append([]string(nil), named...)
	}
	if n <= 0 {
		n = 1
	}
	if n > len(all) {
		n = len(all)
	}
	idx := r.Perm(len(all))[:n]
	sort.Ints(idx)
	out := make([]string, n)
	for i, j := range idx {
		out[i] = all[j]
	}
	return out
}

// ensure the history package stays the single source of event names used by the scheduler.
var _ = history.EvFault
