package fault

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redlock-harness/redlock-harness/harness/cluster"
)

// crashRestart kills nodes with SIGKILL (no shutdown, no final save) and starts them again: at once, or after
// `delay` (antirez's delayed restart: a node that stays down longer than the TTL cannot grant a lock that a
// holder still believes in). Whether the lock keys survive depends on the scenario's persistence: none loses
// them, aof-always keeps them. Links to a node that comes back at another address are repointed. It kills the
// named nodes, or Count drawn (one when Count is 0).
type crashRestart struct {
	NodeTargets `yaml:",inline"`
	// Count is how many nodes to draw when none are named.
	Count int `yaml:"count" json:"count,omitempty"`
	// Delay is how long a crashed node stays down before it restarts; 0 restarts it at once.
	Delay Duration `yaml:"delay" json:"delay,omitempty"`
}

func (f *crashRestart) Name() string { return "crash-restart" }

func (f *crashRestart) Check(env *Env) error {
	if _, ok := env.Backend.(cluster.Restarter); !ok {
		return fmt.Errorf("crash-restart: %w", cluster.Lacking(env.Backend, "restart", "kill and restart nodes"))
	}
	return nil
}

func (f *crashRestart) Inject(ctx context.Context, env *Env) (Injection, error) {
	r, ok := env.Backend.(cluster.Restarter)
	if !ok {
		return Injection{}, f.Check(env)
	}
	targets := pick(env.Rand, f.Nodes, env.NodeNames(), f.Count)
	var idx []int
	for _, n := range targets {
		i, err := env.NodeIndex(n)
		if err != nil {
			return Injection{}, err
		}
		if err := r.Kill(ctx, i); err != nil {
			return Injection{}, fmt.Errorf("kill %s: %w", n, err)
		}
		env.note(n, "killed (SIGKILL)")
		idx = append(idx, i)
	}
	var once sync.Once
	var restartErr error
	restart := func(ctx context.Context) error {
		once.Do(func() {
			// A node must come back even when the run ends while it restarts: the restart is not cut short by
			// the run's context, only bounded in time.
			ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			var errs []error
			for _, i := range idx {
				addr, err := r.Restart(ctx, i)
				if err != nil {
					errs = append(errs, fmt.Errorf("restart %s: %w", env.Nodes[i].Name, err))
					continue
				}
				if addr != env.Nodes[i].Addr {
					env.Nodes[i].Addr = addr
					if env.Record != nil {
						env.Record.Moved(env.Nodes[i].Name, addr, "restarted at a new address")
					}
					errs = append(errs, env.Net.Repoint(env.Nodes[i].Name, addr))
				}
			}
			restartErr = errors.Join(errs...)
		})
		return restartErr
	}
	if f.Delay <= 0 {
		if err := restart(ctx); err != nil {
			return Injection{}, err
		}
	} else {
		t := time.AfterFunc(f.Delay.D(), func() {
			rctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_ = restart(rctx)
		})
		_ = t
	}
	// Healing makes sure every killed node is running again (restarting it now if its delay has not passed).
	return Injection{Targets: targets, Heal: restart}, nil
}

func init() {
	Register(Kind{
		Name:    "crash-restart",
		Summary: "SIGKILLs nodes and restarts them at once or after delay; keys survive only with persistence: aof-always",
		New:     func() Fault { return &crashRestart{} },
	})
}
