package fault

import (
	"context"
	"errors"
	"fmt"

	"github.com/redlock-harness/redlock-harness/harness/cluster"
)

// pause freezes nodes (SIGSTOP locally, container pause on docker). Their connections stay open, so commands sent
// meanwhile queue in the socket and are executed when the node resumes: late writes that land on a lock someone
// else may now hold. Keys expire by the wall clock, which keeps running. It freezes the named nodes, or Count drawn
// (one when Count is 0).
type pause struct {
	NodeTargets `yaml:",inline"`
	// Count is how many nodes to draw when none are named.
	Count int `yaml:"count" json:"count,omitempty"`
}

func (f *pause) Name() string { return "pause" }

func (f *pause) Check(env *Env) error {
	if _, ok := env.Backend.(cluster.Pauser); !ok {
		return fmt.Errorf("pause: %w", cluster.Lacking(env.Backend, "pause", "pause nodes"))
	}
	return nil
}

func (f *pause) Inject(ctx context.Context, env *Env) (Injection, error) {
	p, ok := env.Backend.(cluster.Pauser)
	if !ok {
		return Injection{}, f.Check(env)
	}
	targets := pick(env.Rand, f.Nodes, env.NodeNames(), f.Count)
	var paused []int
	heal := func(ctx context.Context) error {
		var errs []error
		for _, i := range paused {
			errs = append(errs, p.Resume(ctx, i))
		}
		return errors.Join(errs...)
	}
	var names []string
	for _, n := range targets {
		i, err := env.NodeIndex(n)
		if err == nil {
			err = p.Pause(ctx, i)
		}
		if errors.Is(err, cluster.ErrNodeDown) {
			continue // a crash holds it down: there is no process to freeze, and the history names only the frozen
		}
		if err != nil {
			_ = heal(context.Background())
			return Injection{}, fmt.Errorf("pause %s: %w", n, err)
		}
		paused = append(paused, i)
		names = append(names, n)
	}
	return Injection{Targets: names, Heal: heal}, nil
}

func init() {
	Register(Kind{
		Name:    "pause",
		Summary: "freezes nodes (SIGSTOP / container pause): queued commands land late, keys expire meanwhile",
		New:     func() Fault { return &pause{} },
	})
}
