package fault

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redlock-harness/redlock-harness/harness/cluster"
)

// clockJump moves the wall clock of the chosen nodes `jump` ahead of real time (the host's clock is never
// touched: the node runs under libfaketime) and puts it back when healed, after `for` or at the end of the run.
// Redis 7 expires keys by its wall clock, so every key on the node with less than `jump` left to live expires at
// once: a lock its holder still believes in is gone from that node, which is Kleppmann's argument against
// Redlock (a holder with a bare majority loses one node of it to a clock jump; another client takes a majority).
// Putting the clock back is a jump backwards: keys written while the clock was ahead live `jump` longer.
// It moves the named nodes' clocks, or Count drawn (one when Count is 0).
type clockJump struct {
	NodeTargets `yaml:",inline"`
	// Count is how many nodes to draw when none are named.
	Count int `yaml:"count" json:"count,omitempty"`
	// Jump is how far ahead the clock moves, in whole seconds.
	Jump Duration `yaml:"jump" json:"jump,omitempty"`
}

func (f *clockJump) Name() string { return "clock-jump" }

// Needs asks for nodes under libfaketime, whose clocks can be moved.
func (f *clockJump) Needs(spec *cluster.Spec) { spec.FakeClock = true }

func (f *clockJump) Validate(Timing) error { return validJump(f.Name(), f.Jump) }

func (f *clockJump) Check(env *Env) error { return checkClockSkewer(env, f.Name()) }

func (f *clockJump) Inject(ctx context.Context, env *Env) (Injection, error) {
	s, targets, idx, err := clockTargets(env, f.Nodes, f.Count, f.Name())
	if err != nil {
		return Injection{}, err
	}
	heal := func(ctx context.Context) error { return setOffsets(ctx, s, env, idx, 0) }
	if err := setOffsets(ctx, s, env, idx, f.Jump.D()); err != nil {
		_ = heal(context.Background())
		return Injection{}, err
	}
	return Injection{Targets: targets, Heal: heal}, nil
}

// clockStrobe makes the chosen nodes' wall clocks jump `jump` ahead and back again every `period` while it is in
// force: keys expire early on every jump forward, and keys written while ahead outlive their TTL after every jump
// back. Healing stops the strobe with the clocks on real time. It strobes the named nodes' clocks, or Count drawn
// (one when Count is 0).
type clockStrobe struct {
	NodeTargets `yaml:",inline"`
	// Count is how many nodes to draw when none are named.
	Count int `yaml:"count" json:"count,omitempty"`
	// Jump is how far ahead the clock moves, in whole seconds.
	Jump Duration `yaml:"jump" json:"jump,omitempty"`
	// Period is how long each position (jumped, then real) holds while the strobe is in force.
	Period Duration `yaml:"period" json:"period,omitempty"`
}

func (f *clockStrobe) Name() string { return "clock-strobe" }

// Needs asks for nodes under libfaketime, whose clocks can be moved.
func (f *clockStrobe) Needs(spec *cluster.Spec) { spec.FakeClock = true }

func (f *clockStrobe) Validate(Timing) error {
	if err := validJump(f.Name(), f.Jump); err != nil {
		return err
	}
	if f.Period <= 0 {
		return errors.New("clock-strobe needs period: (how long each position holds, e.g. 200ms)")
	}
	return nil
}

func (f *clockStrobe) Check(env *Env) error { return checkClockSkewer(env, f.Name()) }

func (f *clockStrobe) Inject(ctx context.Context, env *Env) (Injection, error) {
	s, targets, idx, err := clockTargets(env, f.Nodes, f.Count, f.Name())
	if err != nil {
		return Injection{}, err
	}
	if err := setOffsets(ctx, s, env, idx, f.Jump.D()); err != nil {
		_ = setOffsets(context.Background(), s, env, idx, 0)
		return Injection{}, err
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var strobeErrs []error
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(f.Period.D())
		defer t.Stop()
		ahead := true
		for {
			select {
			case <-stop:
				return
			case <-t.C:
			}
			ahead = !ahead
			off := time.Duration(0)
			if ahead {
				off = f.Jump.D()
			}
			sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			if err := setOffsets(sctx, s, env, idx, off); err != nil {
				strobeErrs = append(strobeErrs, err)
			}
			cancel()
		}
	}()
	var once sync.Once
	var healErr error
	heal := func(ctx context.Context) error {
		once.Do(func() {
			close(stop)
			wg.Wait()
			healErr = errors.Join(append(strobeErrs, setOffsets(ctx, s, env, idx, 0))...)
		})
		return healErr
	}
	return Injection{Targets: targets, Heal: heal}, nil
}

func checkClockSkewer(env *Env, kind string) error {
	if _, ok := env.Backend.(cluster.ClockSkewer); !ok {
		return fmt.Errorf("%s: %w", kind, cluster.Lacking(env.Backend, "clock", "move a node's clock"))
	}
	return nil
}

// clockTargets returns the backend's ClockSkewer and the chosen nodes (those named, or count drawn), by name and
// index.
func clockTargets(env *Env, named []string, count int, kind string) (cluster.ClockSkewer, []string, []int, error) {
	s, ok := env.Backend.(cluster.ClockSkewer)
	if !ok {
		return nil, nil, nil, checkClockSkewer(env, kind)
	}
	targets := pick(env.Rand, named, env.NodeNames(), count)
	idx := make([]int, len(targets))
	for j, n := range targets {
		i, err := env.NodeIndex(n)
		if err != nil {
			return nil, nil, nil, err
		}
		idx[j] = i
	}
	return s, targets, idx, nil
}

func setOffsets(ctx context.Context, s cluster.ClockSkewer, env *Env, idx []int, off time.Duration) error {
	var errs []error
	for _, i := range idx {
		if err := s.SetClockOffset(ctx, i, off); err != nil {
			errs = append(errs, fmt.Errorf("set %s's clock to real time + %s: %w", env.Nodes[i].Name, off, err))
			continue
		}
		env.note(env.Nodes[i].Name, fmt.Sprintf("wall clock set to real time + %s", off))
	}
	return errors.Join(errs...)
}

// validJump refuses a jump the node clocks cannot make: none, or not in whole seconds.
func validJump(kind string, jump Duration) error {
	if jump <= 0 {
		return fmt.Errorf("%s needs jump: (how far ahead the clock moves, e.g. 5s)", kind)
	}
	if jump.D()%time.Second != 0 {
		return fmt.Errorf("%s: jump %s is not a whole number of seconds (node clocks move in whole seconds)", kind, jump)
	}
	return nil
}

func init() {
	Register(Kind{
		Name:    "clock-jump",
		Summary: "moves chosen nodes' wall clocks `jump` ahead (libfaketime) until healed: keys expire early",
		New:     func() Fault { return &clockJump{} },
	})
	Register(Kind{
		Name:    "clock-strobe",
		Summary: "makes chosen nodes' wall clocks jump `jump` ahead and back every `period` while in force",
		New:     func() Fault { return &clockStrobe{} },
	})
}
