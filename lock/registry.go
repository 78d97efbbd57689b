package lock

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"
)

// Info describes a registered strategy for `list` and the reports.
type Info struct {
	Name string
	// Summary says what the strategy does, in one line.
	Summary string
	// Origin names the source the strategy reproduces.
	Origin string
	// Weakness is the failure the strategy is expected to show.
	Weakness string
	// Fenced says whether the strategy's leases carry fencing tokens the resource should enforce.
	Fenced bool
	// System names the system whose servers the strategy locks against ("redis" when empty): the harness starts
	// that system's nodes and hands the strategy that system's clients.
	System string
	// Twin is set on a mutant only: the healthy strategy it is, but for one planted bug (Summary says which).
	Twin string
	// Make builds the strategy.
	Make func() Strategy
	// Params, for a strategy with parameters of its own, returns a pointer to a fresh value of the strategy's type:
	// a scenario's `strategy_options: {<name>: {…}}` is decoded into it, strictly (its yaml tags are the keys the
	// strategy takes), and the value it points to is the strategy the scenario runs. Nil: the strategy takes none.
	Params func() any
}

// Configured is the strategy Params made and decode filled: decode decodes the scenario's options into the value
// Params returns. It fails for a strategy without parameters, or when Params' value is not a strategy.
func (i Info) Configured(decode func(v any) error) (Strategy, error) {
	if i.Params == nil {
		return nil, fmt.Errorf("strategy %s takes no options", i.Name)
	}
	p := i.Params()
	if err := decode(p); err != nil {
		return nil, err
	}
	st, ok := reflect.ValueOf(p).Elem().Interface().(Strategy)
	if !ok {
		return nil, fmt.Errorf("strategy %s: its Params value (%T) is not a pointer to a strategy", i.Name, p)
	}
	return st, nil
}

// SystemName is the system the strategy locks against: Info.System, "redis" when unset.
func (i Info) SystemName() string {
	if i.System == "" {
		return SystemRedis
	}
	return i.System
}

var (
	regMu    sync.RWMutex
	registry = map[string]Info{}
	mutants  = map[string]Info{}
)

// registerMutant adds a mutant to its own catalogue: not in All or Names (the strategies under test), but found
// by Lookup, so that a mutant runs wherever a strategy does.
func registerMutant(info Info) {
	regMu.Lock()
	defer regMu.Unlock()
	if _, dup := mutants[info.Name]; dup {
		panic("lock: mutant registered twice: " + info.Name)
	}
	mutants[info.Name] = info
}

// Mutants returns every mutant, sorted by name.
func Mutants() []Info {
	regMu.RLock()
	defer regMu.RUnlock()
	out := make([]Info, 0, len(mutants))
	for _, m := range mutants {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Register adds a strategy to the catalogue. It panics on a duplicate name: that is a programming error.
func Register(info Info) {
	regMu.Lock()
	defer regMu.Unlock()
	if _, dup := registry[info.Name]; dup {
		panic("lock: strategy registered twice: " + info.Name)
	}
	registry[info.Name] = info
}

// Lookup finds a strategy by name; the error lists the known names.
func Lookup(name string) (Info, error) {
	regMu.RLock()
	defer regMu.RUnlock()
	if info, ok := registry[name]; ok {
		return info, nil
	}
	if info, ok := mutants[name]; ok {
		return info, nil
	}
	hint := ""
	if strings.Contains(name, MutantSeparator) {
		hint = "; the mutants are listed by `list --mutants`"
	}
	return Info{}, fmt.Errorf("unknown strategy %q (known: %s%s)", name, strings.Join(namesLocked(), ", "), hint)
}

// All returns every registered strategy, grouped by system (Redis first), sorted by name within each.
func All() []Info {
	regMu.RLock()
	defer regMu.RUnlock()
	out := make([]Info, 0, len(registry))
	for _, n := range namesLocked() {
		out = append(out, registry[n])
	}
	return out
}

// Names returns the registered names, in All's order.
func Names() []string {
	regMu.RLock()
	defer regMu.RUnlock()
	return namesLocked()
}

// namesLocked is every registered name, grouped by system (Redis's first, then by system name), by name within a
// system: tables and lists show a system's strategies side by side.
func namesLocked() []string {
	out := make([]string, 0, len(registry))
	for n := range registry {
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := registry[out[i]].SystemName(), registry[out[j]].SystemName()
		if a != b {
			return systemLess(a, b)
		}
		return out[i] < out[j]
	})
	return out
}

// systemLess orders system names: Redis first, then by name.
func systemLess(a, b string) bool {
	if (a == SystemRedis) != (b == SystemRedis) {
		return a == SystemRedis
	}
	return a < b
}
