// Package fault is the nemesis: the faults a scenario can inject (network latency and partitions through
// Toxiproxy, node pauses through the backend, …), a registry that builds them from scenario entries, and the
// scheduler that injects and heals them on time and records each step in the history. Every fault returns its
// own heal, and the scheduler calls every outstanding heal on the way out, error or Ctrl-C included.
package fault

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"

	"github.com/redlock-harness/redlock-harness/harness/cluster"
	"github.com/redlock-harness/redlock-harness/harness/netem"
	"github.com/redlock-harness/redlock-harness/harness/workload"
	"github.com/redlock-harness/redlock-harness/history"
	"github.com/redlock-harness/redlock-harness/scenarios"
)

// Fault is one kind of trouble, configured from a scenario entry.
type Fault interface {
	// Name is the fault's kind, as written in scenarios.
	Name() string
	// Inject makes the fault happen and says how to undo it. Targets drawn at random come from env.Rand.
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
	Scenario *scenarios.Scenario
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
	out := make([]string, e.Scenario.Groups)
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

// Kind describes a registered fault kind.
type Kind struct {
	Name    string
	Summary string
	// New builds the fault from a scenario entry, refusing parameters it does not understand.
	New func(spec scenarios.FaultSpec) (Fault, error)
}

var (
	kindsMu sync.RWMutex
	kinds   = map[string]Kind{}
)

// Register adds a fault kind. It panics on a duplicate: that is a programming error.
func Register(k Kind) {
	kindsMu.Lock()
	defer kindsMu.Unlock()
	if _, dup := kinds[k.Name]; dup {
		panic("fault: registered twice: " + k.Name)
	}
	kinds[k.Name] = k
}

// Kinds lists the registered kinds, sorted by name.
func Kinds() []Kind {
	kindsMu.RLock()
	defer kindsMu.RUnlock()
	out := make([]Kind, 0, len(kinds))
	for _, k := range kinds {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Build makes the fault a scenario entry describes.
func Build(spec scenarios.FaultSpec) (Fault, error) {
	kindsMu.RLock()
	k, ok := kinds[spec.Kind]
	kindsMu.RUnlock()
	if !ok {
		var names []string
		for _, k := range Kinds() {
			names = append(names, k.Name)
		}
		return nil, fmt.Errorf("unknown fault %q (known: %s)", spec.Kind, strings.Join(names, ", "))
	}
	return k.New(spec)
}

func init() {
	scenarios.FaultValidator = func(_ *scenarios.Scenario, f scenarios.FaultSpec) error {
		_, err := Build(f)
		return err
	}
}

// refuse returns an error when the spec sets a parameter the fault does not use, so that a misplaced parameter
// (a latency on a pause) is caught at load time instead of silently ignored.
func refuse(spec scenarios.FaultSpec, allowed ...string) error {
	set := map[string]bool{
		"nodes": len(spec.Nodes) > 0, "groups": len(spec.ClientGroups) > 0, "workers": len(spec.Workers) > 0,
		"count": spec.Count != 0, "shape": spec.Shape != "", "mode": spec.Mode != "", "latency": spec.Latency != 0,
		"jitter": spec.Jitter != 0, "delay": spec.Delay != 0, "jump": spec.Jump != 0, "stall": spec.Stall != 0,
		"period": spec.Period != 0, "lag": spec.Lag != 0, "step": len(spec.Step) > 0, "rate": spec.Rate != 0,
	}
	ok := map[string]bool{}
	for _, a := range allowed {
		ok[a] = true
	}
	var bad []string
	for k, v := range set {
		if v && !ok[k] {
			bad = append(bad, k)
		}
	}
	sort.Strings(bad)
	if len(bad) > 0 {
		return fmt.Errorf("%s does not take %s", spec.Kind, strings.Join(bad, ", "))
	}
	return nil
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
