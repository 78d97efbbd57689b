package fault

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/redlock-harness/redlock-harness/harness/workload"
	"github.com/redlock-harness/redlock-harness/lock"
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

// failpoint arms chosen workers with a stall or a crash at a point of their lock protocol: spec.Step names it
// (lock.Step... or lock.WorkerSteps; "any" draws one per worker from the points its strategy has, "protocol" the
// same among the points inside the lock's own operations: all but after-acquire and before-write, which belong to
// the holder's work, where no protocol reaches), and a worker
// whose strategy has no such point is not armed, which the injection's note says. The workers are armed while
// the fault is in force and fire at the next time they reach the point; the heal disarms those that did not.
func failpoint(env *Env, spec scenarios.FaultSpec, fp workload.Failpoint, defaultStep string) (Injection, error) {
	ws, names, err := chosenWorkers(env, spec)
	if err != nil {
		return Injection{}, err
	}
	drawn := len(spec.Step) > 1 || slices.Contains(spec.Step, "any") || slices.Contains(spec.Step, "protocol")
	var notes []string
	var disarm []func()
	for _, w := range ws {
		pts := stepsFor(w, spec.Step, defaultStep)
		if len(pts) == 0 {
			notes = append(notes, fmt.Sprintf("%s: its lock has no point %s, not armed", w.Name, strings.Join(spec.Step, " or ")))
			continue
		}
		fp.Point = pts[env.Rand.IntN(len(pts))]
		disarm = append(disarm, w.Arm(fp))
		if drawn {
			notes = append(notes, fmt.Sprintf("%s at %s", w.Name, fp.Point))
		}
	}
	return Injection{Targets: names, Note: strings.Join(notes, "; "), Heal: func(context.Context) error {
		for _, d := range disarm {
			d() // a worker that never reached its point, unless a later injection armed it anew
		}
		return nil
	}}, nil
}

// stepsFor returns the points of w's lock protocol that steps names ("any" and "protocol" included).
func stepsFor(w *workload.Worker, steps []string, defaultStep string) []string {
	if len(steps) == 0 {
		steps = []string{defaultStep}
	}
	var out []string
	add := func(p string) {
		if w.Has(p) && !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	for _, s := range steps {
		switch s {
		case "any":
			for _, p := range w.Points() {
				add(p)
			}
		case "protocol":
			for _, p := range w.Points() {
				if p != lock.StepBeforeWrite && p != lock.StepAfterAcquire {
					add(p)
				}
			}
		default:
			add(s)
		}
	}
	return out
}

// clientStall freezes chosen workers for `stall` at a point of their lock protocol, by default the worst
// moment: inside the critical section, after they checked their lease is still valid and before they write (a GC
// pause, a VM freeze). The whole client freezes: nothing crosses its connections meanwhile, so a watchdog
// renewing in the background stalls too. No client-side check covers the default point; only the resource
// itself (fencing) can.
type clientStall struct{ spec scenarios.FaultSpec }

func (f *clientStall) Name() string { return "client-stall" }

func (f *clientStall) Inject(_ context.Context, env *Env) (Injection, error) {
	return failpoint(env, f.spec, workload.Failpoint{Stall: f.spec.Stall.D(), Fault: f.Name()}, lock.StepBeforeWrite)
}

// clientCrash makes chosen workers die at a point of their lock protocol, by default inside their next critical
// section, holding the lock: they never release, renew or come back, and their connections close, as a crashed
// process's would. The lock must expire for anyone else to progress; a crash between two commands of a protocol
// (SETNX, then PEXPIRE) may leave a lock that never expires.
type clientCrash struct{ spec scenarios.FaultSpec }

func (f *clientCrash) Name() string { return "client-crash" }

func (f *clientCrash) Inject(_ context.Context, env *Env) (Injection, error) {
	return failpoint(env, f.spec, workload.Failpoint{Crash: true, Fault: f.Name()}, lock.StepBeforeWrite)
}

// validSteps refuses a step that names no point of any lock protocol.
func validSteps(steps []string) error {
	known := append([]string{"any", "protocol", lock.StepAfterReplies, lock.StepBetweenSetNXAndExpire,
		lock.StepBetweenGetAndDel, lock.StepBetweenGetAndExpire, lock.StepBetweenFenceRounds}, lock.WorkerSteps...)
	for _, s := range steps {
		if !slices.Contains(known, s) {
			return fmt.Errorf("unknown step %q (known: %s)", s, strings.Join(known, ", "))
		}
	}
	return nil
}

func init() {
	Register(Kind{
		Name:    "client-stall",
		Summary: "freezes chosen workers for `stall` at a point of their lock protocol (`step`, default between their validity check and their write)",
		New: func(spec scenarios.FaultSpec) (Fault, error) {
			if err := refuse(spec, "workers", "count", "stall", "step"); err != nil {
				return nil, err
			}
			if spec.Stall <= 0 {
				return nil, errors.New("client-stall needs stall: (how long each worker freezes, e.g. 3s)")
			}
			if err := validSteps(spec.Step); err != nil {
				return nil, err
			}
			return &clientStall{spec}, nil
		},
	})
	Register(Kind{
		Name:    "client-crash",
		Summary: "chosen workers die at a point of their lock protocol (`step`, default inside their next critical section, holding the lock) and never come back",
		New: func(spec scenarios.FaultSpec) (Fault, error) {
			if err := refuse(spec, "workers", "count", "step"); err != nil {
				return nil, err
			}
			if err := validSteps(spec.Step); err != nil {
				return nil, err
			}
			return &clientCrash{spec}, nil
		},
	})
}
