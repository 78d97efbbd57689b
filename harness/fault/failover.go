package fault

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redlock-harness/redlock-harness/harness/cluster"
)

// ReplicationStaller is implemented by backends that can cut a node's asynchronous replica off its primary
// while the primary keeps serving (the local backend's replicas follow their primaries through Toxiproxy links
// of their own). It is how a failover is made to lose writes on purpose: asynchronous replication on loopback
// lags by microseconds, so without a cut there is almost nothing left to lose.
type ReplicationStaller interface {
	StallReplication(ctx context.Context, node int) error
	ResumeReplication(ctx context.Context, node int) error
}

// failover replaces the chosen nodes by their asynchronous replicas, as Sentinel or a managed service does when
// a primary dies. With `lag`, each replica is first cut off its primary for that long (a replica behind a broken
// or congested link), while the primary goes on acknowledging writes; then the primary is killed (SIGKILL), the
// replica promoted (REPLICAOF NO ONE), and every client group's link to the node repointed to it. Every write
// the primary acknowledged during the lag is lost: locks it granted or extended then are gone from the node, and
// locks it released then are back until they expire. The history records the injection when the replica takes
// over, that is `lag` after `at`; `for`, counted from `at` as for every fault, must be longer than `lag`.
//
// Healing restores nothing: the promoted replica keeps serving the node, as it would in production (the backend
// starts a new replica of it, so the node can fail over again). It fails over the named nodes, or Count drawn (one
// when Count is 0).
type failover struct {
	NodeTargets `yaml:",inline"`
	// Count is how many nodes to draw when none are named.
	Count int `yaml:"count" json:"count,omitempty"`
	// Lag is how long each replica is cut off its primary before the primary dies: every write the primary
	// acknowledged in that time is lost with it.
	Lag Duration `yaml:"lag" json:"lag,omitempty"`
}

func (f *failover) Name() string { return "failover" }

// Needs asks for a replica behind every node: there is nothing to fail over to otherwise.
func (f *failover) Needs(spec *cluster.Spec) { spec.Replicas = true }

func (f *failover) Validate(t Timing) error {
	if t.For > 0 && t.For <= f.Lag {
		return fmt.Errorf("failover: for %s must be longer than lag %s (the replica takes over after the lag)", t.For, f.Lag)
	}
	return nil
}

func (f *failover) Check(env *Env) error {
	if _, ok := env.Backend.(cluster.Failoverer); !ok {
		return fmt.Errorf("failover: %w", cluster.Lacking(env.Backend, "failover", "fail a node over to a replica"))
	}
	if _, ok := env.Backend.(ReplicationStaller); !ok && f.Lag > 0 {
		return fmt.Errorf("failover: %w (lag: %s)", cluster.Lacking(env.Backend, "replica-lag", "make a replica lag"), f.Lag)
	}
	return nil
}

func (f *failover) Inject(ctx context.Context, env *Env) (Injection, error) {
	if err := f.Check(env); err != nil {
		return Injection{}, err
	}
	fo := env.Backend.(cluster.Failoverer)
	targets := pick(env.Rand, f.Nodes, env.NodeNames(), f.Count)
	idx := make([]int, len(targets))
	for j, n := range targets {
		i, err := env.NodeIndex(n)
		if err != nil {
			return Injection{}, err
		}
		idx[j] = i
	}
	if f.Lag > 0 {
		st := env.Backend.(ReplicationStaller)
		for j, i := range idx {
			if err := st.StallReplication(ctx, i); err != nil {
				for _, k := range idx[:j] {
					_ = st.ResumeReplication(context.Background(), k)
				}
				return Injection{}, fmt.Errorf("stall %s's replication: %w", targets[j], err)
			}
		}
		t := time.NewTimer(f.Lag.D())
		select {
		case <-t.C:
		case <-ctx.Done(): // the run is ending: fail over at once rather than leave the replicas cut off
		}
		t.Stop()
	}
	fctx := ctx
	if ctx.Err() != nil {
		var cancel context.CancelFunc
		fctx, cancel = context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
	}
	var errs []error
	for j, i := range idx {
		addr, err := fo.Failover(fctx, i)
		if err != nil {
			errs = append(errs, fmt.Errorf("fail %s over: %w", targets[j], err))
			continue
		}
		env.Nodes[i].Addr = addr
		if env.Record != nil {
			env.Record.Moved(env.Nodes[i].Name, addr, "failed over: its replica was promoted in its place")
		}
		if env.Net != nil {
			if err := env.Net.Repoint(env.Nodes[i].Name, addr); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return Injection{}, err
	}
	return Injection{Targets: targets, Heal: func(context.Context) error { return nil }}, nil
}

func init() {
	Register(Kind{
		Name:    "failover",
		Summary: "cuts nodes' replicas off for `lag`, SIGKILLs the primaries and promotes the replicas: acknowledged writes are lost",
		New:     func() Fault { return &failover{} },
	})
}
