// Package cluster starts and stops the Redis nodes a run locks against. Backends differ in how a node lives (a
// local process, a container, a server the user already runs); optional interfaces say which node faults a
// backend can carry out, so that a scenario asking for one it cannot do is refused before the run starts.
package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Node is one Redis server as the harness reaches it directly (the workers reach it through proxies).
type Node struct {
	// Name is n1, n2, … in scenario files and histories.
	Name string `json:"name"`
	// Addr is host:port where the harness reaches the node: on loopback for local processes, the container's
	// bridge address for docker (a published port would add Docker's userland proxy to every connection).
	Addr string `json:"addr"`
}

// Backend runs the nodes of one run.
type Backend interface {
	// Name is the backend's flag value, e.g. "local".
	Name() string
	// Start brings up the nodes spec asks for and returns once every one answers PING.
	Start(ctx context.Context, spec Spec) ([]Node, error)
	// Stop stops every node and process the backend started. It is safe to call more than once.
	Stop(ctx context.Context) error
}

// Spec says what a run needs of its nodes, so that a backend starts only what the scenario's faults use.
type Spec struct {
	// Nodes is the number of primaries, n1…nN.
	Nodes int
	// Persistence is "none" (no RDB, no AOF) or "aof-always" (appendonly yes, appendfsync always).
	Persistence string
	// Replicas gives every node an asynchronous replica, for failover.
	Replicas bool
	// FakeClock starts every node under libfaketime so that its wall clock can be moved (ClockSkewer).
	FakeClock bool
	// ClockRates makes the named primaries' wall clocks run at a rate of real time (1.01: one percent fast) from
	// their start, restarts included; it needs FakeClock. A rate is a property of the process (libfaketime reads
	// it once), so it is given here, not injected later.
	ClockRates map[string]float64
}

// ClockRater is a backend whose nodes can run their wall clocks at a rate other than real time's (Spec.ClockRates):
// ClockRate reports the rate node i runs at, 1 when it keeps real time, so that a drift is verified, not assumed.
type ClockRater interface {
	ClockRate(node int) float64
}

// Advisor is a backend that could do a fault it lacks if configured to: Lacks says how for a capability
// ("pause", "restart"), or "" when it cannot. A refused scenario then tells its user what to do, not only no.
type Advisor interface {
	Lacks(capability string) string
}

// ErrUnsupported is wrapped by every refusal of a fault a backend cannot do (Lacking): the scenario does not apply
// to the system on that backend, which a matrix reports as n/a rather than as an error.
var ErrUnsupported = errors.New("unsupported")

// Lacking is the refusal of a fault the backend cannot do, with the backend's advice when it has some.
func Lacking(b Backend, capability, what string) error {
	msg := fmt.Sprintf("the %s backend cannot %s", b.Name(), what)
	if a, ok := b.(Advisor); ok {
		if how := a.Lacks(capability); how != "" {
			msg += ": " + how
		}
	}
	return unsupported(msg)
}

// unsupported is a refusal's message that is also ErrUnsupported.
type unsupported string

func (u unsupported) Error() string        { return string(u) }
func (u unsupported) Is(target error) bool { return target == ErrUnsupported }

// Pauser freezes a node without closing its connections (SIGSTOP, container pause): commands sent meanwhile
// queue up and are executed when it resumes. Faults overlap (a pause drawn on a node a crash has taken down, a
// crash of a paused node), so Pause of a node that is down returns ErrNodeDown, and Resume of a node that is down,
// or was restarted since its pause, succeeds: nothing of the paused process is left to resume.
type Pauser interface {
	Pause(ctx context.Context, node int) error
	Resume(ctx context.Context, node int) error
}

// ErrNodeDown means the node's server is not running (killed, not yet restarted): there is nothing to pause.
var ErrNodeDown = errors.New("node is down")

// Restarter kills a node abruptly and starts it again, possibly at a new address.
type Restarter interface {
	Kill(ctx context.Context, node int) error
	// Restart starts a killed node again and returns its (possibly new) address.
	Restart(ctx context.Context, node int) (string, error)
}

// NodeName is the scenario name of the i-th node (0-based): n1, n2, …
func NodeName(i int) string { return fmt.Sprintf("n%d", i+1) }

// NodeNames is n1…nN.
func NodeNames(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = NodeName(i)
	}
	return out
}

// ClockSkewer moves a node's wall clock, never the host's: the node sees time jump by offset (relative to real
// time) from the call on. Redis expires keys by its wall clock, so a jump forward expires keys early.
type ClockSkewer interface {
	SetClockOffset(ctx context.Context, node int, offset time.Duration) error
}

// Failoverer promotes a node's asynchronous replica after killing its primary, the way Sentinel or a managed
// service would, losing whatever the replica had not yet received. It returns the promoted replica's address.
type Failoverer interface {
	Failover(ctx context.Context, node int) (string, error)
}
