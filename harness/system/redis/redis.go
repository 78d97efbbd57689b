// Package redis is the Redis system: redis-server nodes (local processes, containers, or servers the user already
// runs), reached by go-redis clients, one per node and worker, and recorded by MONITOR. Its strategies implement
// lock.RedisStrategy.
package redis

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/redlock-harness/redlock-harness/harness/cluster"
	"github.com/redlock-harness/redlock-harness/harness/record"
	"github.com/redlock-harness/redlock-harness/harness/system"
	"github.com/redlock-harness/redlock-harness/history"
	"github.com/redlock-harness/redlock-harness/lock"
)

func init() { system.Register(System{}) }

// System is the Redis system.
type System struct{}

var (
	_ system.System   = System{}
	_ system.Recorder = System{}
)

// Name implements system.System.
func (System) Name() string { return lock.SystemRedis }

// Summary implements system.System.
func (System) Summary() string {
	return "redis-server nodes, each with its own data; go-redis clients; MONITOR records the lock keys"
}

// Backends implements system.System. The external backend (servers the user runs) needs their addresses and
// credentials: it is made by cluster.NewExternal, not by name.
func (System) Backends() []string { return []string{"local", "docker", "external"} }

// NewBackend implements system.System.
func (System) NewBackend(name string) (cluster.Backend, error) {
	switch name {
	case "", "local":
		return &cluster.Local{}, nil
	case "docker":
		return &cluster.Docker{}, nil
	case "external":
		return nil, fmt.Errorf("the external backend needs your servers' addresses (--nodes)")
	}
	return nil, fmt.Errorf("the redis system has no backend %q (known: local, docker, external)", name)
}

// Takes implements system.System: a Redis strategy implements lock.RedisStrategy.
func (System) Takes(st lock.Strategy) bool {
	_, ok := st.(lock.RedisStrategy)
	return ok
}

// Connect implements system.System: one go-redis client per node, each dialling through cfg.Dial, with the
// backend's credentials when it has some.
func (System) Connect(cfg system.ConnectConfig) (system.Clients, error) {
	var auth cluster.ClientOptions
	if co, ok := cfg.Backend.(cluster.ClientOptioner); ok {
		auth = co.ClientOptions()
	}
	cs := make(Clients, 0, len(cfg.Addrs))
	for _, a := range cfg.Addrs {
		cs = append(cs, newClient(a, cfg.TTL, cfg.Dial, cfg.Name, auth))
	}
	return cs, nil
}

// Record implements system.Recorder with one MONITOR connection per node.
func (System) Record(file string, clock history.Clock, addrs map[string]string, isKey func(string) bool) (system.NodeRecord, error) {
	return record.Start(file, clock, addrs, isKey)
}

// Clients is one worker's go-redis clients, one per node in node order: what a lock.RedisStrategy is made from.
type Clients []goredis.UniversalClient

// Locker implements system.Clients.
func (cs Clients) Locker(st lock.Strategy, opt lock.Options) (lock.Locker, error) {
	rs, ok := st.(lock.RedisStrategy)
	if !ok {
		return nil, fmt.Errorf("strategy %q is not a Redis strategy (lock.RedisStrategy)", st.Name())
	}
	return rs.New(cs, opt), nil
}

// Ping implements system.Clients.
func (cs Clients) Ping(ctx context.Context) error {
	return system.PingAll(ctx, len(cs), func(ctx context.Context, i int) error { return cs[i].Ping(ctx).Err() })
}

// Close implements system.Clients.
func (cs Clients) Close() error {
	var errs []string
	for _, c := range cs {
		if err := c.Close(); err != nil && err != goredis.ErrClosed {
			errs = append(errs, err.Error())
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("close: %s", strings.Join(errs, "; "))
	}
	return nil
}

// NewClient is the go-redis client every worker uses for one node: no driver retries, of commands or of dials (the
// harness, not the driver, decides what is retried) and context deadlines honoured, so a strategy's per-node
// timeout is real.
func NewClient(addr string, ttl time.Duration) *goredis.Client {
	return newClient(addr, ttl, nil, "", cluster.ClientOptions{})
}

// newClient is NewClient dialling through dial (nil: directly), with the servers' credentials.
// Each connection is named after its worker (CLIENT SETNAME, as part of HELLO), so that the servers' record of a
// run (record.Recorder) knows whose command it saw.
func newClient(addr string, ttl time.Duration, dial func(ctx context.Context, network, addr string) (net.Conn, error), name string, auth cluster.ClientOptions) *goredis.Client {
	opt := &goredis.Options{
		ClientName:            name,
		Username:              auth.Username,
		Password:              auth.Password,
		TLSConfig:             auth.TLS,
		Addr:                  addr,
		MaxRetries:            -1,
		ContextTimeoutEnabled: true,
		PoolSize:              4,
		DialTimeout:           max(ttl, time.Second),
		DialerRetries:         1, // no hidden dial retries either: go-redis would otherwise try 5 times
		Protocol:              2, // RESP2: a new connection sends its first command at once, no HELLO round trip first
		ReadTimeout:           max(2*ttl, 2*time.Second),
		WriteTimeout:          max(2*ttl, 2*time.Second),
		DisableIdentity:       true,
	}
	if dial != nil {
		opt.Dialer = withTLS(dial, auth.TLS)
	}
	c := goredis.NewClient(opt)
	c.AddHook(patientConns{pool: func() (int, *goredis.PoolStats) { return opt.PoolSize, c.PoolStats() }})
	return c
}

// withTLS makes dial's connections TLS when tlsCfg is set: a custom dialer replaces go-redis's, which would
// otherwise do the TLS, and the TLS goes over the dialled connection so that a freeze holds back the encrypted
// bytes as well.
func withTLS(dial func(ctx context.Context, network, addr string) (net.Conn, error), tlsCfg *tls.Config) func(ctx context.Context, network, addr string) (net.Conn, error) {
	if tlsCfg == nil {
		return dial
	}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		tc := tls.Client(c, tlsCfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			_ = c.Close()
			return nil, err
		}
		return tc, nil
	}
}
