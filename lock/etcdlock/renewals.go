package etcdlock

import (
	"context"
	"sync"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"
)

// A concurrency.Session renews its lease through clientv3's keep-alive loop, which tells nobody when it sent a
// renewal: its answers alone would make the holder count the lease from their arrival, later than the leader
// does, and believe in it too long. Renewals of the worker's own would tell the send times, but they would renew
// the lease too, and change what is measured. So the send times are read off the wire: every harness client
// carries a stream interceptor (DialOption) that notes when each keep-alive request of a lease under account
// leaves, and when its answer comes back (the server answers a stream's requests one by one, in order) credits
// that lease's validity with the send time plus the TTL granted.

// keepAliveMethod is the gRPC method of the lease keep-alive stream.
const keepAliveMethod = "/etcdserverpb.Lease/LeaseKeepAlive"

// accounts holds the leases whose renewals are accounted, by lease ID: *account.
var accounts sync.Map

// account is a lease under account: the holder's validity, and the holder's clock.
type account struct {
	v   *validity
	now func() time.Time
}

// account starts accounting the renewals of lease id in v; the returned function stops it.
func accountRenewals(id clientv3.LeaseID, v *validity, now func() time.Time) (stop func()) {
	accounts.Store(id, &account{v: v, now: now})
	return func() { accounts.Delete(id) }
}

// DialOption is the gRPC dial option every client an etcd strategy uses must be made with (the etcd system's
// NewClient adds it): without it a session's renewals go unaccounted, and the mutex's ValidUntil never moves past
// its grant's TTL.
func DialOption() grpc.DialOption { return grpc.WithChainStreamInterceptor(interceptKeepAlives) }

func interceptKeepAlives(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	s, err := streamer(ctx, desc, cc, method, opts...)
	if err != nil || method != keepAliveMethod {
		return s, err
	}
	return &keepAliveStream{ClientStream: s}, nil
}

// keepAliveStream is a keep-alive stream whose requests for leases under account are timed.
type keepAliveStream struct {
	grpc.ClientStream
	mu      sync.Mutex
	pending []sent // requests sent and not yet answered, oldest first
}

// sent is one keep-alive request: its lease and its send time on the holder's clock.
type sent struct {
	id   clientv3.LeaseID
	at   time.Time
	lost bool // the request failed to go out: no answer will come
}

func (s *keepAliveStream) SendMsg(m any) error {
	r, ok := m.(*pb.LeaseKeepAliveRequest)
	if !ok {
		return s.ClientStream.SendMsg(m)
	}
	id := clientv3.LeaseID(r.ID)
	e := sent{id: id}
	if a, ok := accounts.Load(id); ok {
		e.at = a.(*account).now() // before the send: the leader renews no earlier than this
	}
	s.mu.Lock()
	s.pending = append(s.pending, e)
	i := len(s.pending) - 1
	s.mu.Unlock()
	err := s.ClientStream.SendMsg(m)
	if err != nil {
		s.mu.Lock()
		if i < len(s.pending) {
			s.pending[i].lost = true
		}
		s.mu.Unlock()
	}
	return err
}

func (s *keepAliveStream) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	r, ok := m.(*pb.LeaseKeepAliveResponse)
	if err != nil || !ok {
		return err
	}
	at, found := s.answered(clientv3.LeaseID(r.ID))
	if a, ok := accounts.Load(clientv3.LeaseID(r.ID)); ok && found && !at.IsZero() && r.TTL > 0 {
		a.(*account).v.renewed(at, r.TTL)
	}
	return nil
}

// answered removes and returns the oldest pending request for lease id that went out.
func (s *keepAliveStream) answered(id clientv3.LeaseID) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, e := range s.pending {
		if e.id == id && !e.lost {
			s.pending = append(s.pending[:i:i], s.pending[i+1:]...)
			return e.at, true
		}
	}
	return time.Time{}, false
}
