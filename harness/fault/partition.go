package fault

import (
	"context"
	"errors"
	"fmt"

	"github.com/redlock-harness/redlock-harness/harness/netem"
)

// partition cuts links between client groups and nodes. In blackhole mode (default; also called drop) a cut link
// loses every byte and holds its connections open: commands hang until the client gives up, and at the heal the
// connections that lost bytes are closed and clients redial. In hold mode the bytes sent into the cut are kept
// and delivered when it heals, as TCP retransmits them after a real partition: a command its client gave up on
// is still applied, late. In reset mode a connection fails as soon as it carries a byte.
//
// Shapes:
//   - isolate-node: one node (named or drawn) is cut from every client group.
//   - majority-minority: the nodes split into a minority (N/2) and a majority; one client group (named or drawn)
//     sides with the minority and the others with the majority; every link across the split is cut.
//   - bridge: one node (named or drawn) is shared; the other nodes split in two halves. Odd groups (g1, g3, …) see
//     the shared node and the first half, even groups the shared node and the second half: with five nodes each
//     side sees a majority of three, and the two majorities overlap in the bridge node only.
//   - random-halves: nodes and groups are shuffled from the seed and split in two; every link across is cut.
type partition struct {
	NodeTargets  `yaml:",inline"`
	GroupTargets `yaml:",inline"`
	// Shape is how the links are cut: isolate-node, majority-minority, bridge or random-halves.
	Shape string `yaml:"shape" json:"shape,omitempty"`
	// Mode is what happens to the bytes on a cut link: blackhole (default, also drop: they vanish), hold (they are
	// kept and delivered at the heal) or reset (connections fail as soon as they carry a byte).
	Mode string `yaml:"mode" json:"mode,omitempty"`
}

func (f *partition) Name() string { return "partition" }

// cuts returns the links to cut for the drawn shape.
func (f *partition) cuts(env *Env) ([]string, error) {
	nodes, groups := env.NodeNames(), env.GroupNames()
	var cut []string
	switch f.Shape {
	case "isolate-node":
		for _, n := range pick(env.Rand, f.Nodes, nodes, 1) {
			for _, g := range groups {
				cut = append(cut, netem.LinkName(g, n))
			}
		}
	case "majority-minority":
		minority := pick(env.Rand, f.Nodes, nodes, len(nodes)/2)
		minGroups := pick(env.Rand, f.Groups, groups, 1)
		inMin := map[string]bool{}
		for _, n := range minority {
			inMin[n] = true
		}
		for _, g := range minGroups {
			inMin[g] = true
		}
		for _, g := range groups {
			for _, n := range nodes {
				if inMin[g] != inMin[n] {
					cut = append(cut, netem.LinkName(g, n))
				}
			}
		}
	case "bridge":
		shared := pick(env.Rand, f.Nodes, nodes, 1)[0]
		var rest []string
		for _, n := range nodes {
			if n != shared {
				rest = append(rest, n)
			}
		}
		half := map[string]int{}
		for i, n := range rest {
			half[n] = i * 2 / len(rest)
		}
		for gi, g := range groups {
			for _, n := range rest {
				if half[n] != gi%2 {
					cut = append(cut, netem.LinkName(g, n))
				}
			}
		}
	case "random-halves":
		side := map[string]int{}
		for i, j := range env.Rand.Perm(len(nodes)) {
			side[nodes[j]] = i * 2 / len(nodes)
		}
		for i, j := range env.Rand.Perm(len(groups)) {
			side[groups[j]] = i % 2
		}
		for _, g := range groups {
			for _, n := range nodes {
				if side[g] != side[n] {
					cut = append(cut, netem.LinkName(g, n))
				}
			}
		}
	default:
		return nil, fmt.Errorf("unknown partition shape %q", f.Shape)
	}
	return cut, nil
}

func (f *partition) Inject(_ context.Context, env *Env) (Injection, error) {
	cut, err := f.cuts(env)
	if err != nil {
		return Injection{}, err
	}
	return applyToLinks(env, cut, netem.Effect{Cut: partitionCut(f.Mode)})
}

// partitionCut is what a partition mode does to the bytes on a cut link.
func partitionCut(mode string) netem.Cut {
	switch mode {
	case "hold":
		return netem.Hold
	case "reset":
		return netem.Reset
	}
	return netem.Drop
}

func (f *partition) Validate(Timing) error {
	switch f.Shape {
	case "isolate-node", "majority-minority", "bridge", "random-halves":
	case "":
		return errors.New("partition needs shape: (isolate-node, majority-minority, bridge or random-halves)")
	default:
		return fmt.Errorf("unknown partition shape %q (known: isolate-node, majority-minority, bridge, random-halves)", f.Shape)
	}
	switch f.Mode {
	case "", "blackhole", "drop", "hold", "reset":
	default:
		return fmt.Errorf("unknown partition mode %q (known: blackhole (or drop), hold, reset)", f.Mode)
	}
	return nil
}

func init() {
	Register(Kind{
		Name:    "partition",
		Summary: "cuts links between client groups and nodes; shapes isolate-node, majority-minority, bridge, random-halves; mode blackhole (drop), hold (bytes delivered at the heal) or reset",
		New:     func() Fault { return &partition{} },
	})
}
