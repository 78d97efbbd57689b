// Package etcd is the etcd system: a cluster of etcd members, each a process of its own (Local), reached by
// clientv3 clients, one per member and worker. Its strategies implement etcdlock.Strategy.
//
// A binary that imports this package can be an etcd member: see MemberEnv. The harness learns of the system from
// the registry, as of any other.
package etcd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"

	"github.com/redlock-harness/redlock-harness/harness/cluster"
	"github.com/redlock-harness/redlock-harness/harness/system"
	"github.com/redlock-harness/redlock-harness/lock"
	"github.com/redlock-harness/redlock-harness/lock/etcdlock"
)

func init() {
	runMemberFromEnv() // first thing: a member process never goes on to main
	system.Register(System{})
}

// System is the etcd system.
type System struct{}

var _ system.System = System{}

// Name implements system.System.
func (System) Name() string { return etcdlock.System }

// Summary implements system.System.
func (System) Summary() string {
	return "an etcd cluster, each member a process of its own (embedded etcd server); clientv3 clients, one per member"
}

// Backends implements system.System: the members run as local processes only.
func (System) Backends() []string { return []string{"local"} }

// ErrNoDocker is the refusal of the docker backend, which the harness reports as not applicable.
var ErrNoDocker = errors.New("the etcd system has no docker backend yet: its members run as local processes only (--backend local)")

// NewBackend implements system.System.
func (System) NewBackend(name string) (cluster.Backend, error) {
	switch name {
	case "", "local":
		return &Local{}, nil
	case "docker":
		return nil, ErrNoDocker
	}
	return nil, fmt.Errorf("the etcd system has no backend %q (known: local)", name)
}

// Takes implements system.System: an etcd strategy implements etcdlock.Strategy.
func (System) Takes(st lock.Strategy) bool {
	_, ok := st.(etcdlock.Strategy)
	return ok
}

// Connect implements system.System: one clientv3 client per member, each dialling through cfg.Dial.
func (System) Connect(cfg system.ConnectConfig) (system.Clients, error) {
	cs := make(Clients, 0, len(cfg.Addrs))
	for _, a := range cfg.Addrs {
		c, err := NewClient(a, cfg.TTL, cfg.Dial)
		if err != nil {
			_ = cs.Close()
			return nil, fmt.Errorf("client of %s: %w", a, err)
		}
		cs = append(cs, c)
	}
	return cs, nil
}

// NewClient is the client every worker has of one member: that member only (no endpoint discovery, so that a
// worker's way to each member is its link), no retries by the client library of requests that failed (the
// strategy, not the driver, decides what is tried again; clientv3 would otherwise retry up to 100 times), a
// silent logger, the keep-alive accounting the strategies' ValidUntil needs (etcdlock.DialOption), and every
// connection dialled through dial (nil: directly), so that a frozen worker's connections carry nothing. Creating
// the client does not dial: the first request does. Requests wait for a connection (clientv3's WaitForReady), so
// a request to a member that is down fails when its context ends.
func NewClient(addr string, ttl time.Duration, dial func(ctx context.Context, network, addr string) (net.Conn, error)) (*clientv3.Client, error) {
	cfg := clientv3.Config{
		Endpoints:       []string{addr},
		DialTimeout:     max(ttl, time.Second),
		Logger:          zap.NewNop(),
		MaxUnaryRetries: 1, // one attempt: 0 would mean the default, 100
		DialOptions:     []grpc.DialOption{etcdlock.DialOption()},
	}
	if dial != nil {
		cfg.DialOptions = append(cfg.DialOptions, grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
			return dial(ctx, "tcp", addr)
		}))
	}
	return clientv3.New(cfg)
}

// Clients is one worker's clients, one per member in node order: what an etcdlock.Strategy is made from.
type Clients []*clientv3.Client

// Locker implements system.Clients.
func (cs Clients) Locker(st lock.Strategy, opt lock.Options) (lock.Locker, error) {
	es, ok := st.(etcdlock.Strategy)
	if !ok {
		return nil, fmt.Errorf("strategy %q is not an etcd strategy (etcdlock.Strategy)", st.Name())
	}
	return es.New(cs, opt), nil
}

// Ping implements system.Clients with a linearizable read on each member: it opens the connection and proves the
// member serves reads with a leader behind it.
func (cs Clients) Ping(ctx context.Context) error {
	return system.PingAll(ctx, len(cs), func(ctx context.Context, i int) error {
		_, err := cs[i].Get(ctx, "/ping")
		return err
	})
}

// Close implements system.Clients.
func (cs Clients) Close() error {
	var errs []error
	for _, c := range cs {
		if err := c.Close(); err != nil && !errors.Is(err, context.Canceled) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
