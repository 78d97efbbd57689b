package fault

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/redlock-harness/redlock-harness/harness/cluster"
)

// peerBackend records the cuts a peer-partition asks of it; leader is the node it says leads. Its real
// counterpart, the etcd local backend, is tested on members in harness/system/etcd.
type peerBackend struct {
	noPause
	leader int
	mu     sync.Mutex
	cut    map[int]int // cuts in force, by node
}

func (b *peerBackend) CutPeers(_ context.Context, i int) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.cut[i]++
	return nil
}

func (b *peerBackend) HealPeers(_ context.Context, i int) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.cut, i)
	return nil
}

func (b *peerBackend) Leader(context.Context) (int, error) { return b.leader, nil }

// inForce lists the nodes cut now.
func (b *peerBackend) inForce() []int {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []int
	for i := range b.cut {
		out = append(out, i)
	}
	slices.Sort(out)
	return out
}

// cutterOnly can cut peers but cannot tell the leader.
type cutterOnly struct{ noPause }

func (cutterOnly) CutPeers(context.Context, int) error  { return nil }
func (cutterOnly) HealPeers(context.Context, int) error { return nil }

func peerEnv(b cluster.Backend) *Env {
	var nodes []cluster.Node
	for _, n := range cluster.NodeNames(5) {
		nodes = append(nodes, cluster.Node{Name: n})
	}
	return &Env{Backend: b, Nodes: nodes, Groups: 3, Rand: rand.New(rand.NewPCG(1, 2))}
}

func TestAPeerPartitionCutsTheNodesItNamesDrawsOrFindsLeadingAndHealsThem(t *testing.T) {
	tests := []struct {
		name    string
		entry   string
		targets int // how many nodes are cut
		want    []int
	}{
		{"named nodes are the ones cut", "    nodes: [n2, n4]\n", 2, []int{1, 3}},
		{"leader: true cuts the node that leads", "    leader: true\n", 1, []int{2}},
		{"a count draws that many nodes", "    count: 2\n", 2, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := &peerBackend{leader: 2, cut: map[int]int{}}
			env := peerEnv(b)
			inj := inject(t, env, "  - kind: peer-partition\n"+tc.entry)
			got := b.inForce()
			if len(got) != tc.targets || len(inj.Targets) != tc.targets || (tc.want != nil && !slices.Equal(got, tc.want)) {
				t.Fatalf("cut %v (targets %v), want %d nodes %v", got, inj.Targets, tc.targets, tc.want)
			}
			if err := inj.Heal(context.Background()); err != nil {
				t.Fatal(err)
			}
			if left := b.inForce(); len(left) != 0 {
				t.Fatalf("still cut after the heal: %v", left)
			}
		})
	}
}

func TestAPeerPartitionIsRefusedOnABackendWhoseNodesHaveNoPeerLinks(t *testing.T) {
	tests := []struct {
		name    string
		backend cluster.Backend
		entry   string
	}{
		{"a backend that cannot cut peers refuses any peer-partition", noPause{}, ""},
		{"a backend that cannot tell the leader refuses leader: true", cutterOnly{}, "    leader: true\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := schedule(t, "  - kind: peer-partition\n"+tc.entry)[0].Fault.(Checker)
			err := f.Check(peerEnv(tc.backend))
			if !errors.Is(err, cluster.ErrUnsupported) || !strings.Contains(err.Error(), "cannot") {
				t.Fatalf("got %v, want a refusal saying what the backend cannot do", err)
			}
		})
	}
}

func TestAPeerPartitionNamingNodesAndTheLeaderIsRejectedWhenItLoads(t *testing.T) {
	f := &peerPartition{NodeTargets: NodeTargets{Nodes: []string{"n1"}}, Leader: true}
	if err := f.Validate(Timing{}); err == nil {
		t.Fatal("nodes and leader: true together were accepted")
	}
}
