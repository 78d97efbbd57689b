package fault

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/redlock-harness/redlock-harness/harness/netem"
)

// applyToLinks puts effect on the given directions (both when none is named) of every link named and returns a
// heal that takes it off again. Healing a link is a change of the link's state that cannot block (netem.Link.Apply).
func applyToLinks(env *Env, linkNames []string, effect netem.Effect, streams ...netem.Stream) (Injection, error) {
	sort.Strings(linkNames)
	byName := map[string]*netem.Link{}
	for _, l := range env.Net.Links() {
		byName[l.Name] = l
	}
	for _, name := range linkNames {
		if byName[name] == nil {
			return Injection{}, fmt.Errorf("no link %s", name)
		}
	}
	var heals []func()
	for _, name := range linkNames {
		heals = append(heals, byName[name].Apply(effect, streams...))
	}
	return Injection{Targets: linkNames, Heal: func(context.Context) error {
		for _, h := range heals {
			h()
		}
		return nil
	}}, nil
}

// latency slows links down: each direction of each chosen link waits Latency ± Jitter, so a round trip takes
// about twice Latency. Commands still arrive, late: the case where a lock's validity is eaten by the network.
// The links are those between the named groups (all by default) and the named nodes (all by default).
type latency struct {
	NodeTargets  `yaml:",inline"`
	GroupTargets `yaml:",inline"`
	// Latency is the delay each direction of each link adds.
	Latency Duration `yaml:"latency" json:"latency,omitempty"`
	// Jitter is how far each delay may stray from Latency, either way.
	Jitter Duration `yaml:"jitter" json:"jitter,omitempty"`
}

func (f *latency) Name() string { return "latency" }

func (f *latency) Inject(_ context.Context, env *Env) (Injection, error) {
	groups := pick(env.Rand, f.Groups, env.GroupNames(), len(env.GroupNames()))
	nodes := pick(env.Rand, f.Nodes, env.NodeNames(), len(env.NodeNames()))
	var links []string
	for _, g := range groups {
		for _, n := range nodes {
			links = append(links, netem.LinkName(g, n))
		}
	}
	return applyToLinks(env, links, netem.Effect{Latency: f.Latency.D(), Jitter: f.Jitter.D()})
}

func (f *latency) Validate(Timing) error {
	if f.Latency <= 0 {
		return errors.New("latency needs latency: (e.g. 200ms)")
	}
	return nil
}

func init() {
	Register(Kind{
		Name:    "latency",
		Summary: "slows chosen links (default all) by latency ± jitter in each direction (a toxic on the link's Toxiproxy proxy)",
		New:     func() Fault { return &latency{} },
	})
}
