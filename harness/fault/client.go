package fault

import (
	"context"
	"errors"
	"fmt"

	"github.com/redlock-harness/redlock-harness/harness/workload"
	"github.com/redlock-harness/redlock-harness/scenarios"
)

func workerNames(env *Env) []string {
	var out []string
	for _, w := range env.Workload.Workers() {
		out = append(out, w.Name)
	}
	return out
}

func chosenWorkers(env *Env, spec scenarios.FaultSpec) ([]*workload.Worker, []string, error) {
	if env.Workload == nil {
		return nil, nil, errors.New("no workload to act on")
	}
	names := pick(env.Rand, spec.Workers, workerNames(env), spec.Count)
	var out []*workload.Worker
	for _, n := range names {
		w := env.Workload.Worker(n)
		if w == nil {
			return nil, nil, fmt.Errorf("no worker %s", n)
		}
		out = append(out, w)
	}
	return out, names, nil
}

// clientStall freezes chosen workers for `stall` at the worst moment: inside the critical section, after they
// checked their lease is still valid and before they write (a GC pause, a VM freeze). The whole client freezes:
// nothing crosses its connections meanwhile, so a watchdog renewing in the background stalls too. No client-side
// check can cover it; only the resource itself (fencing) can. Workers are armed while the fault is in force and
// freeze at their next write.
type clientStall struct{ spec scenarios.FaultSpec }

func (f *clientStall) Name() string { return "client-stall" }

func (f *clientStall) Inject(_ context.Context, env *Env) (Injection, error) {
	ws, names, err := chosenWorkers(env, f.spec)
	if err != nil {
		return Injection{}, err
	}
	for _, w := range ws {
		w.Stall(f.spec.Stall.D())
	}
	return Injection{Targets: names, Heal: func(context.Context) error {
		for _, w := range ws {
			w.Stall(0) // disarm a worker that never reached its write
		}
		return nil
	}}, nil
}

// clientCrash makes chosen workers die holding the lock: they never release, renew or come back, and their
// connections close, as a crashed process's would. The lock must expire for anyone else to progress.
type clientCrash struct{ spec scenarios.FaultSpec }

func (f *clientCrash) Name() string { return "client-crash" }

func (f *clientCrash) Inject(_ context.Context, env *Env) (Injection, error) {
	ws, names, err := chosenWorkers(env, f.spec)
	if err != nil {
		return Injection{}, err
	}
	for _, w := range ws {
		w.Crash()
	}
	return Injection{Targets: names, Heal: func(context.Context) error { return nil }}, nil
}

func init() {
	Register(Kind{
		Name:    "client-stall",
		Summary: "freezes chosen workers for `stall` between their validity check and their write (GC pause, VM freeze)",
		New: func(spec scenarios.FaultSpec) (Fault, error) {
			if err := refuse(spec, "workers", "count", "stall"); err != nil {
				return nil, err
			}
			if spec.Stall <= 0 {
				return nil, errors.New("client-stall needs stall: (how long each worker freezes, e.g. 3s)")
			}
			return &clientStall{spec}, nil
		},
	})
	Register(Kind{
		Name:    "client-crash",
		Summary: "chosen workers die inside their next critical section, holding the lock, and never come back",
		New: func(spec scenarios.FaultSpec) (Fault, error) {
			if err := refuse(spec, "workers", "count"); err != nil {
				return nil, err
			}
			return &clientCrash{spec}, nil
		},
	})
}
