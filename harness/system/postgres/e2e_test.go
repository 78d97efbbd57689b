package postgres_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redlock-harness/redlock-harness/checker"
	"github.com/redlock-harness/redlock-harness/harness"
	"github.com/redlock-harness/redlock-harness/harness/cluster"
	"github.com/redlock-harness/redlock-harness/harness/netem"
	"github.com/redlock-harness/redlock-harness/harness/system"
	"github.com/redlock-harness/redlock-harness/harness/system/postgres" // the harness does not import the system yet
	"github.com/redlock-harness/redlock-harness/lock"
	"github.com/redlock-harness/redlock-harness/lock/pglock"
	"github.com/redlock-harness/redlock-harness/scenarios"
)

// stallOneKey is client-stall on one key, so that every stalled holder has contenders: two drawn workers freeze
// 2.5s (TTL 1s) between their validity check and their write, armed for 2s so that each surely reaches its write
// meanwhile.
const stallOneKey = `description: two drawn workers at a time freeze 2.5s between their check and their write; one key
duration: 8s
keys: 1
ttl: 1s
hold: {min: 20ms, max: 100ms}
think: {min: 0s, max: 20ms}
faults:
  - kind: client-stall
    count: 2
    stall: 2.5s
    at: 1s
    for: 2s
    every: 3s
`

// restartMidHold is crash-restart-single with holds that outlast a restart: the restart of a PostgreSQL server
// (kill, WAL replay, ready) can take longer than crash-restart-single's holds on a slow machine (see the file).
const restartMidHold = "../../../scenarios/testdata/restart-mid-hold.yaml"

// scenario loads a built-in scenario or a file's, or parses stallOneKey when asked for "stall-one-key".
func scenario(t *testing.T, name string) *scenarios.Scenario {
	t.Helper()
	if name == "stall-one-key" {
		sc, err := scenarios.Parse(name, name+".yaml", []byte(stallOneKey))
		if err != nil {
			t.Fatal(err)
		}
		return sc
	}
	sc, err := scenarios.Load(name)
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

// run runs a scenario for d against a registered strategy, stopping at the first violation.
func run(t *testing.T, name, strategy string, d time.Duration, seed int64) harness.Result {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: not in -short")
	}
	info, err := lock.Lookup(strategy)
	if err != nil {
		t.Fatal(err)
	}
	res, err := harness.Run(context.Background(), harness.Config{Scenario: scenario(t, name), Strategy: info.Make(), Seed: seed,
		Duration: d, OutDir: t.TempDir(), StopOnViolation: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s", res.Summary())
	return res
}

func TestThePostgresSystemTakesThePglockStrategiesAndNoOther(t *testing.T) {
	for _, name := range []string{"pg-advisory", "pg-advisory-xact", "pg-for-update", "pg-unique-row", "pg-unique-row-fenced"} {
		info, err := lock.Lookup(name)
		if err != nil {
			t.Fatal(err)
		}
		s, err := system.For(info.Make())
		if err != nil || s.Name() != "postgres" {
			t.Errorf("%s: system %v, %v", name, s, err)
		}
	}
	if (postgres.System{}).Takes(lock.Lua{}) {
		t.Error("the postgres system takes a Redis strategy")
	}
}

func TestEndToEnd(t *testing.T) {
	tests := []struct {
		name               string
		scenario, strategy string
		want               checker.Verdict
		cause              checker.Cause
	}{
		{name: "the session lock keeps mutual exclusion when nothing goes wrong",
			scenario: "baseline", strategy: "pg-advisory", want: checker.Valid},
		{name: "a restart of its server breaks the session lock: the server forgets it while its holder believes",
			scenario: restartMidHold, strategy: "pg-advisory", want: checker.Invalid, cause: checker.CauseGrantedTwice},
		{name: "a partition does not break the session lock: the server keeps it for the whole cut",
			scenario: "partition-drop", strategy: "pg-advisory", want: checker.Valid},
		{name: "a holder that stalls past its TTL breaks the lock row: the next holder takes the stale row",
			scenario: "stall-one-key", strategy: "pg-unique-row", want: checker.Invalid, cause: checker.CauseLeaseOutlived},
		{name: "the fenced lock row stays safe under the same stalls: the resource refuses the stale token",
			scenario: "stall-one-key", strategy: "pg-unique-row-fenced", want: checker.Valid},
		{name: "the session lock stays safe under the same stalls: nothing expires while its connection is open",
			scenario: "stall-one-key", strategy: "pg-advisory", want: checker.Valid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// One run at a time: a restart breaks the session lock only when the server is back while the holder
			// is still inside its section, which a second run beside it can make too slow on 2 CPUs.
			// A violation needs a holder inside its section when the fault strikes, which a slow machine (the race
			// detector) sometimes misses on one seed: a lock expected to break gets three seeds to show it.
			var res harness.Result
			for seed := int64(1); seed <= 3; seed++ {
				if res = run(t, tc.scenario, tc.strategy, 8*time.Second, seed); tc.want != checker.Invalid || res.Verdict == checker.Invalid {
					break
				}
			}
			if res.Verdict != tc.want || res.Check.Cause != tc.cause {
				t.Fatalf("%s with %s: %s (cause %q), want %s (cause %q)", tc.scenario, tc.strategy, res.Verdict, res.Check.Cause, tc.want, tc.cause)
			}
		})
	}
}

// TestACutOffHoldersSessionLockLastsUntilTheServerGivesUpOnItsConnection shows what a partition does to the
// session lock. Behind the link's proxy the server sees neither an end of stream nor a dead peer (the proxy's
// kernel answers its keepalives), so across a plain blackhole it keeps the session, and the lock, for the whole
// cut: even the holder's own close, once its round trip failed, is lost in the cut like any segment and arrives at
// the heal. A server that gives up on a silent client (its keepalive, tcp_user_timeout: the partition's give_up)
// ends the session and releases the lock while the holder, cut off, still believes in it.
func TestACutOffHoldersSessionLockLastsUntilTheServerGivesUpOnItsConnection(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: not in -short")
	}
	ctx := context.Background()
	b := &postgres.Local{}
	t.Cleanup(func() { _ = b.Stop(ctx) })
	nodes, err := b.Start(ctx, cluster.Spec{Nodes: 1})
	if err != nil {
		t.Fatal(err)
	}
	nw, err := netem.New("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nw.Close() })
	link, err := nw.AddLink("g1", "n1", nodes[0].Addr)
	if err != nil {
		t.Fatal(err)
	}
	mk := func(addr string, opts ...lock.Option) lock.Locker {
		n, err := pglock.NewNode(pglock.NodeConfig{Addr: addr, ConnectTimeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = n.Close() })
		return pglock.Advisory{}.New([]*pglock.Node{n}, lock.NewOptions(opts...))
	}
	other := mk(nodes[0].Addr, lock.WithRetries(0, 0))
	t.Run("a blackhole keeps the lock with the cut-off session until it heals", func(t *testing.T) {
		la, err := mk(link.Addr()).Acquire(ctx, "k")
		if err != nil {
			t.Fatal(err)
		}
		heal := link.Apply(netem.Effect{Cut: netem.Drop})
		defer heal()
		time.Sleep(1500 * time.Millisecond) // longer than any TTL the scenarios use
		if _, err := other.Acquire(ctx, "k"); !errors.Is(err, lock.ErrNotAcquired) {
			t.Fatalf("another client during the cut: %v, want ErrNotAcquired: the server keeps the cut-off session", err)
		}
		ectx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		err = la.Extend(ectx)
		cancel()
		if err == nil || lock.IsDefinite(err) || la.ValidUntil().After(time.Now()) {
			t.Fatalf("the holder's extend across the cut: %v, valid until %s; want an indeterminate error and no more belief", err, la.ValidUntil())
		}
		time.Sleep(300 * time.Millisecond)
		if _, err := other.Acquire(ctx, "k"); !errors.Is(err, lock.ErrNotAcquired) {
			t.Fatalf("another client once the holder closed its connection, the cut still in force: %v; its close should be lost in the cut", err)
		}
		heal()
		if _, err := mk(nodes[0].Addr, lock.WithRetries(50, 20*time.Millisecond)).Acquire(ctx, "k"); err != nil {
			t.Fatalf("another client after the heal: %v", err)
		}
	})
	t.Run("a server that gives up on the silent holder releases its lock while the holder believes", func(t *testing.T) {
		la, err := mk(link.Addr()).Acquire(ctx, "k2")
		if err != nil {
			t.Fatal(err)
		}
		heal := link.Apply(netem.Effect{Cut: netem.Drop, GiveUp: 500 * time.Millisecond})
		defer heal()
		if _, err := mk(nodes[0].Addr, lock.WithRetries(50, 20*time.Millisecond)).Acquire(ctx, "k2"); err != nil {
			t.Fatalf("another client once the server gave up: %v", err)
		}
		if !la.ValidUntil().After(time.Now()) {
			t.Fatalf("the cut-off holder stopped believing (valid until %s): it was told nothing", la.ValidUntil())
		}
	})
}

func TestScenariosAskingForAClockOrAFailoverAreNotApplicableWithTheReason(t *testing.T) {
	for _, tc := range []struct{ scenario, want string }{
		{"clock-jump", "libfaketime"}, {"clock-drift", "libfaketime"}, {"failover-single", "no replica"},
	} {
		t.Run(tc.scenario, func(t *testing.T) {
			sc, err := scenarios.Load(tc.scenario)
			if err != nil {
				t.Fatal(err)
			}
			_, err = harness.Run(context.Background(), harness.Config{Scenario: sc, Strategy: pglock.Advisory{}, Seed: 1, OutDir: t.TempDir()})
			if !errors.Is(err, harness.ErrNotApplicable) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v; want not applicable, saying %q", err, tc.want)
			}
		})
	}
}

func TestTheDockerBackendIsNotApplicableUntilItIsBuilt(t *testing.T) {
	_, err := harness.Run(context.Background(), harness.Config{Scenario: scenarios.MustLoad("baseline"), Strategy: pglock.Advisory{},
		Seed: 1, OutDir: t.TempDir(), BackendName: "docker"})
	if !errors.Is(err, harness.ErrNotApplicable) || !strings.Contains(err.Error(), "not built yet") {
		t.Fatalf("got %v; want not applicable, saying the docker backend is not built yet", err)
	}
}
