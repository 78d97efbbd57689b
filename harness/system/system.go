// Package system says what a kind of lock server is to the harness (Jepsen's "db"): how its nodes are started on
// a backend, how a worker's clients reach them, and which strategies lock against it. The harness, the fault
// scheduler, the checker and the reports know nothing of Redis or etcd: each system is one registered value, so
// that etcd's members or a PostgreSQL server take the same faults, the same workload and the same checker as five
// redis-server processes.
//
// What a system's nodes can suffer is said by its backends, as for Redis: a backend implements cluster.Pauser,
// cluster.Restarter, cluster.ClockSkewer or cluster.Failoverer when its nodes can be paused, crashed and
// restarted, have their clocks moved or be failed over. A scenario asking a system for a fault its backend cannot
// do is refused before any node starts, with the reason (cluster.ErrUnsupported); the matrix marks that cell n/a.
package system

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/redlock-harness/redlock-harness/harness/cluster"
	"github.com/redlock-harness/redlock-harness/history"
	"github.com/redlock-harness/redlock-harness/lock"
)

// System is one kind of lock server.
type System interface {
	// Name is the system's name, as strategies (lock.Info.System) and reports write it: "redis", "etcd".
	Name() string
	// Summary says in one line what the nodes are, for `list`.
	Summary() string
	// Backends names the backends the system's nodes can run on, the default first ("local", "docker").
	Backends() []string
	// NewBackend returns a fresh backend of that name, for one run: it starts this system's nodes. A name the
	// system has no backend for is an error naming those it has.
	NewBackend(name string) (cluster.Backend, error)
	// Takes says whether st is a strategy of this system: whether it implements the system's strategy interface
	// (lock.RedisStrategy for Redis).
	Takes(st lock.Strategy) bool
	// Connect makes one worker's clients of the nodes, one per address in cfg.Addrs (the worker's way to each
	// node, through its links), every connection dialled through cfg.Dial.
	Connect(cfg ConnectConfig) (Clients, error)
}

// ConnectConfig is what a system needs to make one worker's clients.
type ConnectConfig struct {
	// Addrs is the worker's address of each node, in node order (n1 first): the worker's links, so that every
	// network fault reaches its clients.
	Addrs []string
	// Name is the worker's name (g1w3), for servers that can record who sent what.
	Name string
	// TTL is the run's lock TTL: clients size their own timeouts from it.
	TTL time.Duration
	// Dial opens every connection the clients make: a stalled worker's connections carry nothing while it is
	// frozen. Nil dials directly.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Backend is the run's backend, for what its servers ask of a connection (an external backend's
	// credentials, cluster.ClientOptioner) and where lock keys go on servers it shares (cluster.KeyPrefixer).
	Backend cluster.Backend
}

// Clients is one worker's clients of a system's nodes: the typed handle the system's strategies take.
type Clients interface {
	// Locker builds strategy st over these clients. It fails when st is not a strategy of the system.
	Locker(st lock.Strategy, opt lock.Options) (lock.Locker, error)
	// Ping reaches every node once, opening the connections before the run starts, as a long-running service
	// has its connections open before it takes a lock. An error names the node that did not answer.
	Ping(ctx context.Context) error
	// Close closes every connection.
	Close() error
}

// Recorder is a system whose servers can keep their own record of the commands on the lock keys (Redis's
// MONITOR), from which violations' causes are read; a system without one has its causes inferred from the
// clients' beliefs alone.
type Recorder interface {
	// Record starts recording the commands on the keys isKey accepts, on the nodes addrs names (name → address,
	// reached directly, not through the links), into file.
	Record(file string, clock history.Clock, addrs map[string]string, isKey func(string) bool) (NodeRecord, error)
}

// NodeRecord is a running record of the nodes' commands. Faults tell it what the nodes cannot tell by themselves.
type NodeRecord interface {
	Moved(node, addr, why string)
	Note(node, what string)
	Close() error
}

var (
	mu       sync.RWMutex
	registry = map[string]System{}
)

// Register adds a system. It panics on a duplicate name: that is a programming error.
func Register(s System) {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := registry[s.Name()]; dup {
		panic("system: registered twice: " + s.Name())
	}
	registry[s.Name()] = s
}

// Lookup finds a system by name; the error lists the known ones.
func Lookup(name string) (System, error) {
	mu.RLock()
	defer mu.RUnlock()
	if s, ok := registry[name]; ok {
		return s, nil
	}
	return nil, fmt.Errorf("unknown system %q (known: %s)", name, strings.Join(namesLocked(), ", "))
}

// All returns every registered system, Redis first, then by name.
func All() []System {
	mu.RLock()
	defer mu.RUnlock()
	out := make([]System, 0, len(registry))
	for _, n := range namesLocked() {
		out = append(out, registry[n])
	}
	return out
}

func namesLocked() []string {
	out := make([]string, 0, len(registry))
	for n := range registry {
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool {
		if (out[i] == lock.SystemRedis) != (out[j] == lock.SystemRedis) {
			return out[i] == lock.SystemRedis
		}
		return out[i] < out[j]
	})
	return out
}

// ErrNoSystem means no registered system takes a strategy.
var ErrNoSystem = errors.New("no system takes the strategy")

// For finds the system a strategy locks against: the one its registry entry names when it is registered under its
// name (and that system takes it), else the first system that takes it.
func For(st lock.Strategy) (System, error) {
	if info, err := lock.Lookup(st.Name()); err == nil {
		if s, err := Lookup(info.SystemName()); err == nil && s.Takes(st) {
			return s, nil
		}
	}
	for _, s := range All() {
		if s.Takes(st) {
			return s, nil
		}
	}
	return nil, fmt.Errorf("%w %q (a %T): it implements no system's strategy interface (lock.RedisStrategy for Redis)", ErrNoSystem, st.Name(), st)
}

// PingAll pings every node of a worker in parallel, each with ping(i), and returns the first failure, naming the
// node: what most systems' Clients.Ping is.
func PingAll(ctx context.Context, n int, ping func(ctx context.Context, i int) error) error {
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := ping(ctx, i); err != nil {
				errs <- fmt.Errorf("node %s: %w", cluster.NodeName(i), err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}
