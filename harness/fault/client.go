package fault

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/redlock-harness/redlock-harness/harness/workload"
	"github.com/redlock-harness/redlock-harness/lock"
)

// Steps is where a client fault strikes (a failpoint): a point of the lock protocol, or a list of them from which
// each struck worker draws one its lock has: after-acquire, in-renewal, before-write (the default), before-release,
// after-replies, between-setnx-and-expire, between-get-and-del, between-get-and-pexpire, between-fence-rounds; any
// (every point) or protocol (the points inside the lock's own operations: all but after-acquire and before-write).
// A worker whose lock has none of them is not struck, and the injection says so. It is written as one name or a
// list: `step: before-release` or `step: [before-release, between-get-and-del]`.
type Steps []string

// UnmarshalYAML reads one name or a list of names.
func (s *Steps) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		*s = Steps{n.Value}
		return nil
	case yaml.SequenceNode:
		var out []string
		for _, c := range n.Content {
			if c.Kind != yaml.ScalarNode {
				return fmt.Errorf("line %d: expected a step name", c.Line)
			}
			out = append(out, c.Value)
		}
		*s = out
		return nil
	}
	return fmt.Errorf("line %d: expected a step name or a list of step names", n.Line)
}

// aim is which workers a client fault strikes, and where in their protocol.
type aim struct {
	workers []string
	count   int
	steps   Steps
}

func workerNames(env *Env) []string {
	var out []string
	for _, w := range env.Workload.Workers() {
		out = append(out, w.Name)
	}
	return out
}

func chosenWorkers(env *Env, a aim) ([]*workload.Worker, []string, error) {
	if env.Workload == nil {
		return nil, nil, errors.New("no workload to act on")
	}
	names := pick(env.Rand, a.workers, workerNames(env), a.count)
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

// failpoint arms chosen workers with a stall or a crash at a point of their lock protocol: a.steps names it
// (lock.Step... or lock.WorkerSteps; "any" draws one per worker from the points its strategy has, "protocol" the
// same among the points inside the lock's own operations: all but after-acquire and before-write, which belong to
// the holder's work, where no protocol reaches), and a worker
// whose strategy has no such point is not armed, which the injection's note says. The workers are armed while
// the fault is in force and fire at the next time they reach the point; the heal disarms those that did not.
func failpoint(env *Env, a aim, fp workload.Failpoint, defaultStep string) (Injection, error) {
	ws, names, err := chosenWorkers(env, a)
	if err != nil {
		return Injection{}, err
	}
	drawn := len(a.steps) > 1 || slices.Contains(a.steps, "any") || slices.Contains(a.steps, "protocol")
	var notes []string
	var disarm []func()
	for _, w := range ws {
		pts := stepsFor(w, a.steps, defaultStep)
		if len(pts) == 0 {
			notes = append(notes, fmt.Sprintf("%s: its lock has no point %s, not armed", w.Name, strings.Join(a.steps, " or ")))
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
// itself (fencing) can. It strikes the named workers, or Count drawn (one when Count is 0).
type clientStall struct {
	WorkerTargets `yaml:",inline"`
	// Count is how many workers to draw when none are named.
	Count int `yaml:"count" json:"count,omitempty"`
	// Stall is how long each struck worker freezes.
	Stall Duration `yaml:"stall" json:"stall,omitempty"`
	// Step is where it freezes.
	Step Steps `yaml:"step" json:"step,omitempty"`
}

func (f *clientStall) Name() string { return "client-stall" }

func (f *clientStall) Inject(_ context.Context, env *Env) (Injection, error) {
	return failpoint(env, aim{f.Workers, f.Count, f.Step}, workload.Failpoint{Stall: f.Stall.D(), Fault: f.Name()}, lock.StepBeforeWrite)
}

func (f *clientStall) Validate(Timing) error {
	if f.Stall <= 0 {
		return errors.New("client-stall needs stall: (how long each worker freezes, e.g. 3s)")
	}
	return validSteps(f.Step)
}

// clientCrash makes chosen workers die at a point of their lock protocol, by default inside their next critical
// section, holding the lock: they never release, renew or come back, and their connections close, as a crashed
// process's would. The lock must expire for anyone else to progress; a crash between two commands of a protocol
// (SETNX, then PEXPIRE) may leave a lock that never expires. It strikes the named workers, or Count drawn (one when
// Count is 0).
type clientCrash struct {
	WorkerTargets `yaml:",inline"`
	// Count is how many workers to draw when none are named.
	Count int `yaml:"count" json:"count,omitempty"`
	// Step is where each struck worker dies.
	Step Steps `yaml:"step" json:"step,omitempty"`
}

func (f *clientCrash) Name() string { return "client-crash" }

func (f *clientCrash) Inject(_ context.Context, env *Env) (Injection, error) {
	return failpoint(env, aim{f.Workers, f.Count, f.Step}, workload.Failpoint{Crash: true, Fault: f.Name()}, lock.StepBeforeWrite)
}

func (f *clientCrash) Validate(Timing) error { return validSteps(f.Step) }

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
		New:     func() Fault { return &clientStall{} },
	})
	Register(Kind{
		Name:    "client-crash",
		Summary: "chosen workers die at a point of their lock protocol (`step`, default inside their next critical section, holding the lock) and never come back",
		New:     func() Fault { return &clientCrash{} },
	})
}
