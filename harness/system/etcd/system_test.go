package etcd_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redlock-harness/redlock-harness/harness"
	"github.com/redlock-harness/redlock-harness/harness/fault"
	"github.com/redlock-harness/redlock-harness/harness/system"
	"github.com/redlock-harness/redlock-harness/harness/system/etcd"
	"github.com/redlock-harness/redlock-harness/lock"
	"github.com/redlock-harness/redlock-harness/scenarios"
)

var (
	_ fault.PeerCutter   = (*etcd.Local)(nil)
	_ fault.LeaderFinder = (*etcd.Local)(nil)
)

func TestTheEtcdSystemTakesItsStrategiesAndNoOthers(t *testing.T) {
	s, err := system.Lookup("etcd")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"etcd-mutex", "etcd-mutex-fenced", "etcd-lease-txn", "lua"} {
		info, err := lock.Lookup(name)
		if err != nil {
			t.Fatal(err)
		}
		st := info.Make()
		if got, want := s.Takes(st), strings.HasPrefix(name, "etcd-"); got != want {
			t.Errorf("Takes(%s) = %v", name, got)
		}
		if sys, err := system.For(st); err != nil || (sys.Name() == "etcd") != strings.HasPrefix(name, "etcd-") {
			t.Errorf("system.For(%s) = %v, %v", name, sys, err)
		}
	}
}

func TestWhatAnEtcdClusterCannotSufferIsRefusedAsNotApplicableBeforeAnyMemberStarts(t *testing.T) {
	tests := []struct {
		name, scenario, backend, reason string
	}{
		{"a clock jump is refused: Go reads its clock through the vDSO", "clock-jump", "", "vDSO"},
		{"a clock drift is refused for the same reason", "clock-drift", "", "vDSO"},
		{"a failover is refused: etcd has no replicas to promote", "failover", "", "elect a leader"},
		{"the docker backend is refused: there is none yet", "baseline", "docker", "no docker backend"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sc, err := scenarios.Load(tc.scenario)
			if err != nil {
				t.Fatal(err)
			}
			_, err = harness.Run(context.Background(), harness.Config{Scenario: sc, Strategy: mutex(t), Seed: 1,
				BackendName: tc.backend, OutDir: t.TempDir()})
			if !errors.Is(err, harness.ErrNotApplicable) || !strings.Contains(err.Error(), tc.reason) {
				t.Fatalf("got %v; want not applicable, saying %q", err, tc.reason)
			}
		})
	}
}

func mutex(t *testing.T) lock.Strategy {
	t.Helper()
	info, err := lock.Lookup("etcd-mutex")
	if err != nil {
		t.Fatal(err)
	}
	return info.Make()
}

func TestAWorkersClientsDialEveryConnectionThroughItsDialer(t *testing.T) {
	_, nodes := start(t, 3)
	var dials atomic.Int64
	d := &net.Dialer{}
	cfg := system.ConnectConfig{TTL: time.Second, Name: "g1w1", Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
		dials.Add(1)
		return d.DialContext(ctx, network, addr)
	}}
	for _, n := range nodes {
		cfg.Addrs = append(cfg.Addrs, n.Addr)
	}
	cs, err := etcd.System{}.Connect(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	if err := within(5*time.Second, cs.Ping); err != nil {
		t.Fatal(err)
	}
	if n := dials.Load(); n != 3 {
		t.Fatalf("%d connections went through the worker's dialer, want one per member (3)", n)
	}
	l, err := cs.Locker(mutex(t), lock.NewOptions())
	if err != nil {
		t.Fatal(err)
	}
	if err := within(5*time.Second, func(ctx context.Context) error {
		lease, err := l.Acquire(ctx, "k1")
		if err == nil {
			err = lease.Release(ctx)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
}
