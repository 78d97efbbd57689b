package fault

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redlock-harness/redlock-harness/harness/cluster"
	"github.com/redlock-harness/redlock-harness/scenarios"
)

// clockJump moves the wall clock of the chosen nodes `jump` ahead of real time (the host's clock is never
// touched: the node runs under libfaketime) and puts it back when healed, after `for` or at the end of the run.
// Redis 7 expires keys by its wall clock, so every key on the node with less than `jump` left to live expires at
// once: a lock its holder still believes in is gone from that node, which is Kleppmann's argument against
// Redlock (a holder with a bare majority loses one node of it to a clock jump; another client takes a majority).
// Putting the clock back is a jump backwards: keys written while the clock was ahead live `jump` longer.
type clockJump struct{ spec scenarios.FaultSpec }

func (f *clockJump) Name() string { return "clock-jump" }

func (f *clockJump) Check(env *Env) error { return checkClockSkewer(env, f.Name()) }

func (f *clockJump) Inject(ctx context.Context, env *Env) (Injection, error) {
	s, targets, idx, err := clockTargets(env, f.spec, f.Name())
	if err != nil {
		return Injection{}, err
	}
	heal := func(ctx context.Context) error { return setOffsets(ctx, s, env, idx, 0) }
	if err := setOffsets(ctx, s, env, idx, f.spec.Jump.D()); err != nil {
		_ = heal(context.Background())
		return Injection{}, err
	}
	return Injection{Targets: targets, Heal: heal}, nil
}

// clockStrobe makes the chosen nodes' wall clocks jump `jump` ahead and back again every `period` while it is in
// force: keys expire early on every jump forward, and keys written while ahead outlive their TTL after every jump
// back. Healing stops the strobe with the clocks on real time.
type clockStrobe struct{ spec scenarios.FaultSpec }

func (f *clockStrobe) Name() string { return "clock-strobe" }

func (f *clockStrobe) Check(env *Env) error { return checkClockSkewer(env, f.Name()) }

func (f *clockStrobe) Inject(ctx context.Context, env *Env) (Injection, error) {
	s, targets, idx, err := clockTargets(env, f.spec, f.Name())
	if err != nil {
		return Injection{}, err
	}
	if err := setOffsets(ctx, s, env, idx, f.spec.Jump.D()); err != nil {
		_ = setOffsets(context.Background(), s, env, idx, 0)
		return Injection{}, err
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var strobeErrs []error
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(f.spec.Period.D())
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
				off = f.spec.Jump.D()
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
		return fmt.Errorf("%s: the %s backend cannot move a node's clock", kind, env.Backend.Name())
	}
	return nil
}

// clockTargets returns the backend's ClockSkewer and the chosen nodes, by name and index.
func clockTargets(env *Env, spec scenarios.FaultSpec, kind string) (cluster.ClockSkewer, []string, []int, error) {
	s, ok := env.Backend.(cluster.ClockSkewer)
	if !ok {
		return nil, nil, nil, checkClockSkewer(env, kind)
	}
	targets := pick(env.Rand, spec.Nodes, env.NodeNames(), spec.Count)
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

func validJump(spec scenarios.FaultSpec) error {
	if spec.Jump <= 0 {
		return fmt.Errorf("%s needs jump: (how far ahead the clock moves, e.g. 5s)", spec.Kind)
	}
	if spec.Jump.D()%time.Second != 0 {
		return fmt.Errorf("%s: jump %s is not a whole number of seconds (node clocks move in whole seconds)", spec.Kind, spec.Jump)
	}
	return nil
}

func init() {
	Register(Kind{
		Name:    "clock-jump",
		Summary: "moves chosen nodes' wall clocks `jump` ahead (libfaketime) until healed: keys expire early",
		New: func(spec scenarios.FaultSpec) (Fault, error) {
			if err := refuse(spec, "nodes", "count", "jump"); err != nil {
				return nil, err
			}
			if err := validJump(spec); err != nil {
				return nil, err
			}
			return &clockJump{spec}, nil
		},
	})
	Register(Kind{
		Name:    "clock-strobe",
		Summary: "makes chosen nodes' wall clocks jump `jump` ahead and back every `period` while in force",
		New: func(spec scenarios.FaultSpec) (Fault, error) {
			if err := refuse(spec, "nodes", "count", "jump", "period"); err != nil {
				return nil, err
			}
			if err := validJump(spec); err != nil {
				return nil, err
			}
			if spec.Period <= 0 {
				return nil, errors.New("clock-strobe needs period: (how long each position holds, e.g. 200ms)")
			}
			return &clockStrobe{spec}, nil
		},
	})
}
