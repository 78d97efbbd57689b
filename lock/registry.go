package lock

import (
	"fmt"
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
	// Make builds the strategy.
	Make func() Strategy
}

var (
	regMu    sync.RWMutex
	registry = map[string]Info{}
)

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
	return Info{}, fmt.Errorf("unknown strategy %q (known: %s)", name, strings.Join(namesLocked(), ", "))
}

// All returns every registered strategy, sorted by name.
func All() []Info {
	regMu.RLock()
	defer regMu.RUnlock()
	out := make([]Info, 0, len(registry))
	for _, n := range namesLocked() {
		out = append(out, registry[n])
	}
	return out
}

// Names returns the registered names, sorted.
func Names() []string {
	regMu.RLock()
	defer regMu.RUnlock()
	return namesLocked()
}

func namesLocked() []string {
	out := make([]string, 0, len(registry))
	for n := range registry {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
