package workload

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redlock-harness/redlock-harness/harness/system"
	"github.com/redlock-harness/redlock-harness/lock"
)

// pinger is a worker's clients whose Ping fails with err the first fails times.
type pinger struct {
	fails int32
	err   error
	calls atomic.Int32
}

func (p *pinger) Ping(context.Context) error {
	if p.calls.Add(1) <= p.fails {
		return p.err
	}
	return nil
}
func (p *pinger) Locker(lock.Strategy, lock.Options) (lock.Locker, error) { return nil, nil }
func (p *pinger) Close() error                                            { return nil }

var _ system.Clients = (*pinger)(nil)

func TestWarmingUpTriesATimedOutPingAgainAndReturnsARefusalAtOnce(t *testing.T) {
	timeout := fmt.Errorf("failed to connect: timeout: %w", context.DeadlineExceeded)
	refused := fmt.Errorf("dial tcp 127.0.0.1:1: %w", syscall.ECONNREFUSED)
	tests := []struct {
		name      string
		p         *pinger
		wantErr   bool
		wantCalls int32
	}{
		{"a connection that timed out twice on a busy machine, then answered, is no error", &pinger{fails: 2, err: timeout}, false, 3},
		{"a refused connection is a broken set-up, returned at the first ping", &pinger{fails: 1000, err: refused}, true, 1},
		{"a node that keeps timing out is returned once the warm-up's own deadline passed", &pinger{fails: 1000, err: timeout}, true, -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := &Workload{workers: []*Worker{{Name: "g1w1", clients: tc.p}}}
			start := time.Now()
			err := w.Warm(context.Background(), 500*time.Millisecond)
			if (err != nil) != tc.wantErr {
				t.Fatalf("Warm: %v, want an error: %v", err, tc.wantErr)
			}
			if tc.wantCalls >= 0 && tc.p.calls.Load() != tc.wantCalls {
				t.Fatalf("%d pings, want %d", tc.p.calls.Load(), tc.wantCalls)
			}
			if tc.wantErr && !errors.Is(err, tc.p.err) {
				t.Fatalf("the error %v does not carry the ping's", err)
			}
			if tc.wantCalls < 0 && time.Since(start) < 400*time.Millisecond {
				t.Fatalf("gave up after %s, before the warm-up's deadline", time.Since(start))
			}
		})
	}
}
