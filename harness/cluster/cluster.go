// Package cluster starts and stops the Redis nodes a run locks against. Backends differ in how a node lives (a
// local process, a container, a server the user already runs); optional interfaces say which node faults a
// backend can carry out, so that a scenario asking for one it cannot do is refused before the run starts.
package cluster

import (
	"context"
	"fmt"
)

// Node is one Redis server as the harness reaches it directly (the workers reach it through proxies).
type Node struct {
	// Name is n1, n2, … in scenario files and histories.
	Name string
	// Addr is host:port on loopback.
	Addr string
}

// Backend runs the nodes of one run.
type Backend interface {
	// Name is the backend's flag value, e.g. "local".
	Name() string
	// Start brings up n nodes and returns once every one answers PING.
	Start(ctx context.Context, n int) ([]Node, error)
	// Stop stops every node and process the backend started. It is safe to call more than once.
	Stop(ctx context.Context) error
}

// Pauser freezes a node without closing its connections (SIGSTOP, container pause): commands sent meanwhile
// queue up and are executed when it resumes.
type Pauser interface {
	Pause(ctx context.Context, node int) error
	Resume(ctx context.Context, node int) error
}

// Restarter kills a node abruptly and starts it again, possibly at a new address.
type Restarter interface {
	Kill(ctx context.Context, node int) error
	// Restart starts a killed node again and returns its (possibly new) address.
	Restart(ctx context.Context, node int) (string, error)
}

// NodeName is the scenario name of the i-th node (0-based): n1, n2, …
func NodeName(i int) string { return fmt.Sprintf("n%d", i+1) }
