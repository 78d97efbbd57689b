package fault

import (
	"context"
	"errors"
	"fmt"
	"strings"

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
//   - isolate-group: one client group (named or drawn; or every group named) is cut from every node: its
//     workers, holders included, reach no node at all.
//   - majority-minority: the nodes split into a minority (N/2) and a majority; one client group (named or drawn)
//     sides with the minority and the others with the majority; every link across the split is cut.
//   - bridge: one node (named or drawn) is shared; the other nodes split in two halves. Odd groups (g1, g3, …) see
//     the shared node and the first half, even groups the shared node and the second half: with five nodes each
//     side sees a majority of three, and the two majorities overlap in the bridge node only.
//   - majorities-ring: Jepsen's majorities ring, between client groups and nodes. The nodes are put in a ring
//     in an order drawn from the seed; each group sees a window of a bare majority of consecutive nodes, the
//     windows spread evenly round the ring: every group reaches a majority, and no two groups (of up to as many
//     as there are nodes) the same one. Any two majorities still overlap, but no node is in all of them, so no
//     single node sees every acquisition: what a quorum algorithm learns from one majority must reach the next
//     through the nodes the two share.
//   - random-halves: nodes and groups are shuffled from the seed and split in two; every link across is cut.
type partition struct {
	NodeTargets  `yaml:",inline"`
	GroupTargets `yaml:",inline"`
	// Shape is how the links are cut: isolate-node, isolate-group, majority-minority, bridge, majorities-ring or
	// random-halves.
	Shape string `yaml:"shape" json:"shape,omitempty"`
	// Mode is what happens to the bytes on a cut link: blackhole (default, also drop: they vanish), hold (they are
	// kept and delivered at the heal) or reset (connections fail as soon as they carry a byte).
	Mode string `yaml:"mode" json:"mode,omitempty"`
	// GiveUp, in blackhole or hold mode, is how long the servers wait for a silent client before they close its
	// connection (their TCP keepalive or tcp_user_timeout): every connection across the cut is closed that long
	// into it, and the server ends the client's session (PostgreSQL releases its session locks) while the client,
	// cut off, is told nothing until it next uses the connection. Behind a proxy the servers never see the
	// silence (the proxy's kernel answers their probes), so the link gives up in their place (netem.Effect.GiveUp).
	// Zero: the servers wait for as long as the cut lasts.
	GiveUp Duration `yaml:"give_up" json:"give_up,omitempty"`
	// Flows is which connections of a cut link the cut strikes: all (default), or established: only those open
	// when it starts, while connections made during it pass (netem.Effect.Established). That is a gray failure,
	// not a partition: a path goes dark for the flows hashed onto it (an ECMP route, a stale NAT or firewall
	// entry) and a client that gives up on a stalled connection and dials again gets through. With mode hold, a
	// command a client gave up on lands at the heal, behind everything the client did since on its new
	// connections: a lock whose late release cannot tell one of its acquisitions from the next is caught.
	Flows string `yaml:"flows" json:"flows,omitempty"`
	// RTO, in hold mode, delivers the held bytes at their sender's next TCP retransmission after the heal instead
	// of at the heal: the first RTO after they were sent, each next one after twice the wait before (Linux's
	// minimum is 200ms). After a cut of seconds that comes up to as long again after the heal, while the
	// connections a client opens after the heal pass at once, so a command it gave up on lands behind what it did
	// since (netem.Effect.RTO). Zero: everything held is delivered at the heal.
	RTO Duration `yaml:"rto" json:"rto,omitempty"`
}

func (f *partition) Name() string { return "partition" }

// shapes draws, for each shape, the links to cut.
var shapes = map[string]func(f *partition, env *Env, nodes, groups []string) []string{
	"isolate-node":      isolateNode,
	"isolate-group":     isolateGroup,
	"majority-minority": majorityMinority,
	"bridge":            bridge,
	"majorities-ring":   majoritiesRing,
	"random-halves":     randomHalves,
}

// shapeNames lists the shapes, as scenarios name them.
const shapeNames = "isolate-node, isolate-group, majority-minority, bridge, majorities-ring or random-halves"

// cuts returns the links to cut for the drawn shape.
func (f *partition) cuts(env *Env) ([]string, error) {
	shape, ok := shapes[f.Shape]
	if !ok {
		return nil, fmt.Errorf("unknown partition shape %q", f.Shape)
	}
	return shape(f, env, env.NodeNames(), env.GroupNames()), nil
}

// across cuts every link between a group and a node on different sides.
func across(nodes, groups []string, side func(string) int) []string {
	var cut []string
	for _, g := range groups {
		for _, n := range nodes {
			if side(g) != side(n) {
				cut = append(cut, netem.LinkName(g, n))
			}
		}
	}
	return cut
}

func isolateNode(f *partition, env *Env, nodes, groups []string) []string {
	var cut []string
	for _, n := range pick(env.Rand, f.Nodes, nodes, 1) {
		for _, g := range groups {
			cut = append(cut, netem.LinkName(g, n))
		}
	}
	return cut
}

func isolateGroup(f *partition, env *Env, nodes, groups []string) []string {
	var cut []string
	for _, g := range pick(env.Rand, f.Groups, groups, 1) {
		for _, n := range nodes {
			cut = append(cut, netem.LinkName(g, n))
		}
	}
	return cut
}

func majorityMinority(f *partition, env *Env, nodes, groups []string) []string {
	inMin := map[string]bool{}
	for _, n := range pick(env.Rand, f.Nodes, nodes, len(nodes)/2) {
		inMin[n] = true
	}
	for _, g := range pick(env.Rand, f.Groups, groups, 1) {
		inMin[g] = true
	}
	return across(nodes, groups, func(x string) int {
		if inMin[x] {
			return 1
		}
		return 0
	})
}

func bridge(f *partition, env *Env, nodes, groups []string) []string {
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
	var cut []string
	for gi, g := range groups {
		for _, n := range rest {
			if half[n] != gi%2 {
				cut = append(cut, netem.LinkName(g, n))
			}
		}
	}
	return cut
}

func majoritiesRing(_ *partition, env *Env, nodes, groups []string) []string {
	ring := make([]string, len(nodes))
	for i, j := range env.Rand.Perm(len(nodes)) {
		ring[i] = nodes[j]
	}
	majority := len(nodes)/2 + 1
	var cut []string
	for gi, g := range groups {
		first := gi * len(nodes) / len(groups) % len(nodes) // windows spread evenly round the ring
		sees := map[string]bool{}
		for k := 0; k < majority; k++ {
			sees[ring[(first+k)%len(ring)]] = true
		}
		for _, n := range nodes {
			if !sees[n] {
				cut = append(cut, netem.LinkName(g, n))
			}
		}
	}
	return cut
}

func randomHalves(_ *partition, env *Env, nodes, groups []string) []string {
	side := map[string]int{}
	for i, j := range env.Rand.Perm(len(nodes)) {
		side[nodes[j]] = i * 2 / len(nodes)
	}
	for i, j := range env.Rand.Perm(len(groups)) {
		side[groups[j]] = i % 2
	}
	return across(nodes, groups, func(x string) int { return side[x] })
}

func (f *partition) Inject(_ context.Context, env *Env) (Injection, error) {
	cut, err := f.cuts(env)
	if err != nil {
		return Injection{}, err
	}
	inj, err := applyToLinks(env, cut, netem.Effect{Cut: partitionCut(f.Mode), GiveUp: f.GiveUp.D(), Established: f.Flows == "established", RTO: f.RTO.D()})
	var notes []string
	if f.GiveUp > 0 {
		notes = append(notes, fmt.Sprintf("the servers close silent connections after %s", f.GiveUp.D()))
	}
	if f.RTO > 0 {
		notes = append(notes, fmt.Sprintf("held bytes land at their next retransmission after the heal (RTO %s, doubling)", f.RTO.D()))
	}
	if f.Flows == "established" {
		notes = append(notes, "only the connections open now are cut; new ones pass")
	}
	inj.Note = strings.Join(notes, "; ")
	return inj, err
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
	switch _, ok := shapes[f.Shape]; {
	case ok:
	case f.Shape == "":
		return errors.New("partition needs shape: (" + shapeNames + ")")
	default:
		return fmt.Errorf("unknown partition shape %q (known: %s)", f.Shape, shapeNames)
	}
	if f.Shape == "majorities-ring" && (len(f.Nodes) > 0 || len(f.Groups) > 0) {
		return errors.New("partition: the majorities-ring shape gives every group its own window of the ring drawn from the seed: it takes no nodes or groups")
	}
	switch f.Mode {
	case "", "blackhole", "drop", "hold", "reset":
	default:
		return fmt.Errorf("unknown partition mode %q (known: blackhole (or drop), hold, reset)", f.Mode)
	}
	switch f.Flows {
	case "", "all", "established":
	default:
		return fmt.Errorf("unknown partition flows %q (known: all, established)", f.Flows)
	}
	if f.RTO < 0 || (f.RTO > 0 && f.Mode != "hold") {
		return errors.New("partition: rto applies to hold mode only (the bytes a blackhole or a reset loses are never retransmitted through)")
	}
	if f.GiveUp < 0 || (f.GiveUp > 0 && f.Mode == "reset") {
		return errors.New("partition: give_up applies to blackhole and hold modes (a reset fails connections at once)")
	}
	return nil
}

func init() {
	Register(Kind{
		Name:    "partition",
		Summary: "cuts links between client groups and nodes; shapes isolate-node, isolate-group, majority-minority, bridge, majorities-ring, random-halves; mode blackhole (drop), hold (bytes delivered at the heal) or reset; give_up: the servers close silent clients' connections after that long; flows: established cuts only the connections open when it starts (a gray failure: new connections pass); rto: in hold mode, held bytes land at their next TCP retransmission after the heal",
		New:     func() Fault { return &partition{} },
	})
}
