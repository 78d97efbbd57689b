package fault

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"sync/atomic"

	"github.com/redlock-harness/redlock-harness/harness/netem"
	"github.com/redlock-harness/redlock-harness/scenarios"
)

// injections numbers every injection of a network fault, so that each toxic it places has a name of its own:
// two faults of one kind may overlap on the same link (reply loss on n1 and on a drawn node that turns out to be
// n1), and each heal must take off its own toxic and no other.
var injections atomic.Uint64

// addToLinks puts the toxics made by mk on every link named (both directions unless mk says otherwise) and
// returns a heal that takes them all off again.
func addToLinks(env *Env, linkNames []string, toxics func(link *netem.Link) []netem.Toxic) (Injection, error) {
	suffix := "-" + strconv.FormatUint(injections.Add(1), 10)
	type placed struct {
		link *netem.Link
		name string
	}
	var done []placed
	heal := func(ctx context.Context) error {
		var errs []error
		for _, p := range done {
			if err := p.link.RemoveToxic(ctx, p.name); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", p.link.Name, err))
			}
		}
		return errors.Join(errs...)
	}
	sort.Strings(linkNames)
	for _, name := range linkNames {
		var l *netem.Link
		for _, cand := range env.Net.Links() {
			if cand.Name == name {
				l = cand
			}
		}
		if l == nil {
			_ = heal(context.Background())
			return Injection{}, fmt.Errorf("no link %s", name)
		}
		for _, t := range toxics(l) {
			t.Name += suffix
			if err := l.AddToxic(t); err != nil {
				_ = heal(context.Background())
				return Injection{}, err
			}
			done = append(done, placed{l, t.Name})
		}
	}
	return Injection{Targets: linkNames, Heal: heal}, nil
}

// latency slows links down: each direction of each chosen link waits Latency ± Jitter, so a round trip takes
// about twice Latency. Commands still arrive, late: the case where a lock's validity is eaten by the network.
type latency struct{ spec scenarios.FaultSpec }

func (f *latency) Name() string { return "latency" }

func (f *latency) Inject(_ context.Context, env *Env) (Injection, error) {
	groups := pick(env.Rand, f.spec.ClientGroups, env.GroupNames(), len(env.GroupNames()))
	nodes := pick(env.Rand, f.spec.Nodes, env.NodeNames(), len(env.NodeNames()))
	var links []string
	for _, g := range groups {
		for _, n := range nodes {
			links = append(links, netem.LinkName(g, n))
		}
	}
	return addToLinks(env, links, func(*netem.Link) []netem.Toxic {
		attrs := map[string]any{"latency": f.spec.Latency.D().Milliseconds(), "jitter": f.spec.Jitter.D().Milliseconds()}
		return []netem.Toxic{
			{Name: "latency-up", Type: "latency", Stream: netem.Upstream, Attributes: attrs},
			{Name: "latency-down", Type: "latency", Stream: netem.Downstream, Attributes: attrs},
		}
	})
}

func init() {
	Register(Kind{
		Name:    "latency",
		Summary: "slows chosen links (default all) by latency ± jitter in each direction (Toxiproxy latency toxic)",
		New: func(spec scenarios.FaultSpec) (Fault, error) {
			if err := refuse(spec, "nodes", "groups", "latency", "jitter"); err != nil {
				return nil, err
			}
			if spec.Latency <= 0 {
				return nil, errors.New("latency needs latency: (e.g. 200ms)")
			}
			return &latency{spec}, nil
		},
	})
}
