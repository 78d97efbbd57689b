// Package etcdlock holds the lock strategies of the etcd system: etcd's own concurrency.Mutex, with and without
// its key's revision as a fencing token, and the hand-written lock of a lease and a transaction that articles
// show. Each reproduces what its source does, weaknesses included: Jepsen's etcd 3.4.3 analysis found that a
// lease can expire while its holder still believes in it, and the harness is here to measure when that bites.
//
// A strategy is built once per worker from that worker's clients, one clientv3.Client per member, each reaching
// only its own member (through the worker's links, so through its faults). A worker talks to one member at a time,
// as a client given every endpoint does, and moves to the next one after an operation whose outcome it could not
// learn (members).
package etcdlock

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/redlock-harness/redlock-harness/lock"
)

// Strategy is a strategy of the etcd system: the harness calls New once per worker with that worker's clients.
// The clients must be made with DialOption (the etcd system's NewClient does), which times the renewals a
// holder's ValidUntil counts from.
type Strategy interface {
	lock.Strategy
	// New returns a Locker over members, one client per member in node order (n1 first), each reaching only
	// its own member.
	New(members []*clientv3.Client, opt lock.Options) lock.Locker
}

// System is the name of the etcd system, as lock.Info.System writes it.
const System = "etcd"

// KeyPrefix is where the locks live in etcd's key space: the workload's key k1 is the lock /locks/k1 (the
// mutex's waiters are keys under it).
const KeyPrefix = "/locks/"

// TTLSeconds is the lease TTL asked of etcd for a lock TTL: etcd grants leases in whole seconds, so the TTL is
// rounded up (a lease never shorter than asked), and at least one second. The server may grant more (its minimum
// lease TTL is 1.5 election timeouts, rounded up): the strategies believe in the TTL granted, not the one asked.
func TTLSeconds(ttl time.Duration) int64 {
	return max(1, int64(math.Ceil(ttl.Seconds())))
}

// indeterminate wraps a request's error: the request may or may not have taken effect on the cluster.
func indeterminate(op string, err error) error {
	return fmt.Errorf("etcdlock: %s: outcome unknown: %w", op, err)
}

// members is a worker's way to the cluster: one client per member, of which it uses one at a time, as an etcd
// client given every endpoint does. The first is drawn from the options' source (so that the workers spread over
// the members, reproducibly); after an operation whose outcome it could not learn (its member down, frozen or cut
// off) the worker moves to the next member, and it stays while its member answers.
type members struct {
	cs  []*clientv3.Client
	mu  sync.Mutex
	cur int
}

func newMembers(cs []*clientv3.Client, o lock.Options) *members {
	if len(cs) == 0 {
		panic("etcdlock: no member clients")
	}
	return &members{cs: cs, cur: o.Rand.IntN(len(cs))}
}

// client returns the member in use and its client.
func (m *members) client() (int, *clientv3.Client) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cur, m.cs[m.cur]
}

// failed moves on from member i, unless the worker already has.
func (m *members) failed(i int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cur == i {
		m.cur = (i + 1) % len(m.cs)
	}
}

// validity is a holder's honest belief of when an etcd lease runs out: the time the last renewal (or grant) that
// was acknowledged was sent, plus the TTL the answer granted. The leader restarts a lease's TTL when the request
// reaches it, which is after it was sent, so the lease lives at least that long on its clock (a new leader even
// adds an election timeout); a request lost or unanswered leaves the belief where it was.
type validity struct {
	mu    sync.Mutex
	until time.Time
}

// renewed records a grant or renewal sent at sent and answered with ttl seconds.
func (v *validity) renewed(sent time.Time, ttl int64) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if u := sent.Add(time.Duration(ttl) * time.Second); u.After(v.until) {
		v.until = u
	}
}

func (v *validity) get() time.Time {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.until
}

// errLeaseNotFound is etcd's answer about a lease that expired or was revoked: definite, the lease is gone.
var errLeaseNotFound = rpctypes.ErrLeaseNotFound

// keepAliveOnce renews lease id once through c and records it in v: lock.ErrLockLost when etcd says the lease is
// gone, an indeterminate error when no answer came.
func keepAliveOnce(ctx context.Context, c *clientv3.Client, id clientv3.LeaseID, v *validity, now func() time.Time) error {
	sent := now()
	r, err := c.KeepAliveOnce(ctx, id)
	if errors.Is(err, errLeaseNotFound) {
		return lock.ErrLockLost
	}
	if err != nil {
		return indeterminate("keep-alive", err)
	}
	v.renewed(sent, r.TTL)
	return nil
}
