package fault

import (
	"context"
	"errors"
	"fmt"

	"github.com/redlock-harness/redlock-harness/harness/cluster"
)

// PeerCutter is a backend whose nodes talk to one another (the members of a consensus group) through links of the
// backend's own, so that a node can be cut from its peers while its clients still reach it: the partition a client
// cannot see, which only the nodes' own protocol notices. The etcd system's local backend is one; Redis nodes do
// not talk to each other, and no Redis backend is.
type PeerCutter interface {
	// CutPeers cuts node from its peers, as a blackhole, until HealPeers. Cuts of several nodes add up.
	CutPeers(ctx context.Context, node int) error
	// HealPeers lifts every cut of node.
	HealPeers(ctx context.Context, node int) error
}

// LeaderFinder is a PeerCutter that can say which node leads now, so that peer-partition can cut the leader.
type LeaderFinder interface {
	Leader(ctx context.Context) (int, error)
}

// peerPartition cuts nodes from their peers (blackhole: what crosses the cut is lost, the connections stay open
// until the heal closes them), leaving every client link alone: clients still reach a cut node, and what it
// answers them is what a node cut off from its group answers. It cuts the named nodes, Count drawn (one when 0),
// or, with leader: true, whichever node leads when it is injected.
//
// What is cut is the backend's to say (PeerCutter). The etcd local backend routes every ordered pair of members
// through a link of its own: its front for each member reads the sender rafthttp names on each connection
// (X-Server-From) and picks the pair's link, so a cut member neither sends nor receives raft messages, whichever
// side dialled the connection that carries them. A single proxy per member could cut only the connections dialled
// to that member's peer port: the member's messages to the others still travel on connections it dials to their
// ports (its pipeline requests), and once its streams time out it goes on through those. The one such gap left is
// the traffic whose sender no header names (rafthttp's prober, version checks): it is cut toward a cut member only.
type peerPartition struct {
	NodeTargets `yaml:",inline"`
	// Count is how many nodes to draw when none are named.
	Count int `yaml:"count" json:"count,omitempty"`
	// Leader cuts the node that leads at injection time, instead of named or drawn ones.
	Leader bool `yaml:"leader" json:"leader,omitempty"`
}

func (f *peerPartition) Name() string { return "peer-partition" }

func (f *peerPartition) Validate(Timing) error {
	if f.Leader && len(f.Nodes) > 0 {
		return errors.New("peer-partition: leader: true cuts the leader; it takes no nodes")
	}
	if f.Count < 0 {
		return fmt.Errorf("peer-partition: count %d is negative", f.Count)
	}
	return nil
}

func (f *peerPartition) Check(env *Env) error {
	if _, ok := env.Backend.(PeerCutter); !ok {
		return fmt.Errorf("peer-partition: %w", cluster.Lacking(env.Backend, "peer-partition", "cut a member from its peers"))
	}
	if _, ok := env.Backend.(LeaderFinder); f.Leader && !ok {
		return fmt.Errorf("peer-partition: %w", cluster.Lacking(env.Backend, "leader", "tell which node leads"))
	}
	return nil
}

// targets are the nodes to cut: the leader, the named ones, or a draw.
func (f *peerPartition) targets(ctx context.Context, env *Env) ([]string, error) {
	if !f.Leader {
		return pick(env.Rand, f.Nodes, env.NodeNames(), f.Count), nil
	}
	i, err := env.Backend.(LeaderFinder).Leader(ctx)
	if err != nil {
		return nil, fmt.Errorf("peer-partition: find the leader: %w", err)
	}
	if i < 0 || i >= len(env.Nodes) {
		return nil, fmt.Errorf("peer-partition: the leader is node %d of %d", i, len(env.Nodes))
	}
	return []string{env.Nodes[i].Name}, nil
}

func (f *peerPartition) Inject(ctx context.Context, env *Env) (Injection, error) {
	if err := f.Check(env); err != nil {
		return Injection{}, err
	}
	pc := env.Backend.(PeerCutter)
	names, err := f.targets(ctx, env)
	if err != nil {
		return Injection{}, err
	}
	var cut []int
	heal := func(ctx context.Context) error {
		var errs []error
		for _, i := range cut {
			errs = append(errs, pc.HealPeers(ctx, i))
		}
		return errors.Join(errs...)
	}
	for _, n := range names {
		i, err := env.NodeIndex(n)
		if err == nil {
			err = pc.CutPeers(ctx, i)
		}
		if err != nil {
			_ = heal(context.Background())
			return Injection{}, fmt.Errorf("peer-partition %s: %w", n, err)
		}
		cut = append(cut, i)
		env.note(n, "cut from its peers")
	}
	return Injection{Targets: names, Heal: heal}, nil
}

func init() {
	Register(Kind{
		Name:    "peer-partition",
		Summary: "cuts nodes (named, drawn or the leader) from their peers, blackhole, while their clients still reach them (etcd members)",
		New:     func() Fault { return &peerPartition{} },
	})
}
