package fault

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/redlock-harness/redlock-harness/history"
)

// Nemesis runs a scenario's fault schedule: each entry injects at its times and heals after its duration, and
// everything still in force is healed when the run ends, however it ends.
type Nemesis struct {
	env   *Env
	hist  *history.Writer
	specs []Entry
	seed  int64
	total time.Duration

	mu     sync.Mutex
	active map[int]activeFault
	nextID int
	errs   []error
	wg     sync.WaitGroup
}

type activeFault struct {
	name    string
	targets []string
	heal    func(context.Context) error
}

// NewNemesis takes a scenario's fault schedule, as loaded (each entry decoded by its kind), and checks that the
// backend can carry out every fault of it: what it cannot do is refused before any node starts.
func NewNemesis(env *Env, hist *history.Writer, schedule []Entry, seed int64, total time.Duration) (*Nemesis, error) {
	n := &Nemesis{env: env, hist: hist, specs: schedule, seed: seed, total: total, active: map[int]activeFault{}}
	for _, spec := range schedule {
		if spec.Fault == nil {
			return nil, fmt.Errorf("line %d: %s: the entry's parameters were never decoded", spec.Line, spec.Kind)
		}
		if c, ok := spec.Fault.(Checker); ok {
			if err := c.Check(env); err != nil {
				return nil, err
			}
		}
	}
	return n, nil
}

// Start runs the schedule in the background, from the run's start (time zero on the history clock).
func (n *Nemesis) Start(ctx context.Context) {
	clock := n.hist.Clock()
	for i, spec := range n.specs {
		f := spec.Fault
		env := *n.env
		env.Rand = rand.New(rand.NewPCG(uint64(n.seed), uint64(1000+i)))
		// Each window on its own: a fault whose windows last longer than its period (for > every) overlaps itself,
		// each injection healed after its own duration. The draws stay in schedule order: a window draws its
		// targets when it is injected, under a lock, so the same seed draws the same targets for the same window.
		// A window that starts where the previous one ends waits for that heal first, as a sequence would.
		var drawMu sync.Mutex
		windows := spec.Schedule(n.total)
		healed := make([]chan struct{}, len(windows))
		for k, w := range windows {
			healed[k] = make(chan struct{})
			var after <-chan struct{}
			if k > 0 && windows[k-1].To <= w.From {
				after = healed[k-1]
			}
			n.wg.Add(1)
			go func() {
				defer n.wg.Done()
				defer close(healed[k])
				if !sleepUntil(ctx, clock, w.From) {
					return
				}
				if after != nil {
					select {
					case <-after:
					case <-ctx.Done():
						return
					}
				}
				drawMu.Lock()
				id, err := n.inject(ctx, f, &env)
				drawMu.Unlock()
				if err != nil {
					n.fail(fmt.Errorf("inject %s: %w", f.Name(), err))
					return
				}
				sleepUntil(ctx, clock, w.To)
				n.heal(id)
			}()
		}
	}
}

func sleepUntil(ctx context.Context, clock history.Clock, at time.Duration) bool {
	d := at - time.Duration(clock.Now())
	if d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
		}
	}
	return ctx.Err() == nil
}

func (n *Nemesis) inject(ctx context.Context, f Fault, env *Env) (int, error) {
	inj, err := f.Inject(ctx, env)
	if err != nil {
		return 0, err
	}
	n.mu.Lock()
	n.nextID++
	id := n.nextID
	n.active[id] = activeFault{name: f.Name(), targets: inj.Targets, heal: inj.Heal}
	n.mu.Unlock()
	n.hist.Record(history.Event{Ev: history.EvFault, Name: f.Name(), Phase: history.PhaseInject, Targets: inj.Targets, Note: inj.Note})
	return id, nil
}

// HealTimeout bounds one heal. Every heal of ours returns quickly (a link's heal is a change of state, a node's
// is a signal or a bounded call to the engine); the bound is the backstop that keeps a heal stuck in a bug of a
// library or an engine from freezing the run. Past it the heal is recorded as timed out, said on the warnings
// writer, and the run goes on: the fault's targets are torn down with the rest at the end of the run.
var HealTimeout = 10 * time.Second

func (n *Nemesis) heal(id int) {
	n.mu.Lock()
	a, ok := n.active[id]
	delete(n.active, id)
	n.mu.Unlock()
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), HealTimeout)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- a.heal(ctx) }()
	ev := history.Event{Ev: history.EvFault, Name: a.name, Phase: history.PhaseHeal, Targets: a.targets}
	select {
	case err := <-done:
		if err != nil {
			n.fail(fmt.Errorf("heal %s: %w", a.name, err))
		}
	case <-time.After(HealTimeout):
		ev.Error = fmt.Sprintf("heal timed out after %s", HealTimeout)
		n.warn(fmt.Sprintf("heal of %s on %s timed out after %s: the run goes on, and its targets are torn down at its end",
			a.name, strings.Join(a.targets, ","), HealTimeout))
	}
	n.hist.Record(ev)
}

func (n *Nemesis) warn(msg string) {
	if n.env.Warn != nil {
		n.env.Warn(msg)
	}
}

func (n *Nemesis) fail(err error) {
	n.mu.Lock()
	n.errs = append(n.errs, err)
	n.mu.Unlock()
}

// Active returns the names of the faults in force now.
func (n *Nemesis) Active() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []string
	for _, a := range n.active {
		out = append(out, a.name)
	}
	sort.Strings(out)
	return out
}

// Stop ends the schedule (its context must be cancelled first), heals every fault still in force, each within
// HealTimeout, and returns the errors met on the way. A schedule goroutine stuck in an injection is
// not waited for past HealTimeout either.
func (n *Nemesis) Stop() error {
	scheduled := make(chan struct{})
	go func() { n.wg.Wait(); close(scheduled) }()
	select {
	case <-scheduled:
	case <-time.After(HealTimeout):
		n.warn(fmt.Sprintf("an injection did not return within %s of the run's end: healing what is in force without it", HealTimeout))
	}
	n.mu.Lock()
	ids := make([]int, 0, len(n.active))
	for id := range n.active {
		ids = append(ids, id)
	}
	n.mu.Unlock()
	sort.Ints(ids) // in the order they were injected: a pause's heal after a crash's on the same node, as before
	for _, id := range ids {
		n.heal(id)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	return errors.Join(n.errs...)
}
