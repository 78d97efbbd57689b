package fault

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"

	"github.com/redlock-harness/redlock-harness/harness/cluster"
	"github.com/redlock-harness/redlock-harness/internal/strictyaml"
)

// Kind describes a registered fault kind. A kind's parameters and targets are the YAML fields of the type New
// returns: the registry decodes each scenario entry of the kind into a fresh one, and refuses any key it does not
// declare. Nothing outside the kind's own file lists them.
type Kind struct {
	Name    string
	Summary string
	// New returns an empty fault of the kind, a pointer to a struct, for an entry's parameters to be decoded into.
	// Its fields are the keys the kind takes (yaml tags; NodeTargets, GroupTargets and WorkerTargets embedded with
	// `yaml:",inline"` give it targets, checked against the scenario when it loads), and its json tags are how
	// config.json records them.
	New func() Fault
}

// Validator is implemented by a kind whose parameters need more than their types to be right: one it cannot do
// without, a value out of range, a timing it cannot keep. It runs when the scenario loads, so that a bad entry is an
// error naming its file and line, not a surprise in the middle of a run.
type Validator interface {
	Validate(t Timing) error
}

// Needer is implemented by a kind that needs something of the nodes before they start: a replica to fail over to,
// a clock libfaketime can move, a clock rate. The harness asks every entry of a scenario (harness.ClusterSpec) and
// starts the nodes as they say; nothing else knows which kind needs what.
type Needer interface {
	Needs(spec *cluster.Spec)
}

var (
	kindsMu sync.RWMutex
	kinds   = map[string]Kind{}
)

// Register adds a fault kind. It panics on a duplicate, or on a New that does not return a pointer to a struct
// named as the kind: those are programming errors, found when the program starts.
func Register(k Kind) {
	if k.New == nil {
		panic("fault: " + k.Name + " has no New")
	}
	f := k.New()
	if f == nil || reflect.TypeOf(f).Kind() != reflect.Pointer || reflect.TypeOf(f).Elem().Kind() != reflect.Struct {
		panic(fmt.Sprintf("fault: %s: New must return a pointer to a struct, got %T", k.Name, f))
	}
	if f.Name() != k.Name {
		panic(fmt.Sprintf("fault: registered as %s, named %s", k.Name, f.Name()))
	}
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

// lookup returns the kind registered under name.
func lookup(name string) (Kind, error) {
	kindsMu.RLock()
	k, ok := kinds[name]
	kindsMu.RUnlock()
	if ok {
		return k, nil
	}
	var names []string
	for _, k := range Kinds() {
		names = append(names, k.Name)
	}
	return Kind{}, fmt.Errorf("unknown fault %q (known: %s)", name, strings.Join(names, ", "))
}

// decode builds the fault of an entry: a fresh value of its kind with params decoded into it, refused when params
// holds a key the kind does not declare or when the kind's Validator says no.
func decode(kind string, params *yaml.Node, t Timing) (Fault, error) {
	k, err := lookup(kind)
	if err != nil {
		return nil, err
	}
	f := k.New()
	if err := strictyaml.Decode(kind, params, f); err != nil {
		return nil, err
	}
	if v, ok := f.(Validator); ok {
		if err := v.Validate(t); err != nil {
			return nil, err
		}
	}
	return f, nil
}
