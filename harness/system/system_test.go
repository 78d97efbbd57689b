package system_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/redlock-harness/redlock-harness/harness/cluster"
	"github.com/redlock-harness/redlock-harness/harness/system"
	_ "github.com/redlock-harness/redlock-harness/harness/system/redis"
	"github.com/redlock-harness/redlock-harness/lock"
)

// fakeSystem takes the strategies that implement fakeStrategy.
type fakeSystem struct{ name string }

type fakeStrategy interface {
	lock.Strategy
	Fake()
}

type fakeLock struct{}

func (fakeLock) Name() string { return "fake-lock" }
func (fakeLock) Fake()        {}

// orphan implements no system's strategy interface.
type orphan struct{}

func (orphan) Name() string { return "orphan" }

func (s fakeSystem) Name() string     { return s.name }
func (fakeSystem) Summary() string    { return "a fake" }
func (fakeSystem) Backends() []string { return []string{"local"} }
func (fakeSystem) NewBackend(string) (cluster.Backend, error) {
	return nil, errors.New("no backend")
}
func (fakeSystem) Takes(st lock.Strategy) bool { _, ok := st.(fakeStrategy); return ok }
func (fakeSystem) Connect(system.ConnectConfig) (system.Clients, error) {
	return nil, errors.New("no clients")
}

func init() {
	system.Register(fakeSystem{"aaa-fake"})
	lock.Register(lock.Info{Name: "fake-lock", System: "aaa-fake", Make: func() lock.Strategy { return fakeLock{} }})
}

func TestTheSystemOfAStrategy(t *testing.T) {
	lua, _ := lock.Lookup("lua")
	tests := []struct {
		name     string
		strategy lock.Strategy
		want     string
	}{
		{"a built-in Redis strategy locks against Redis", lua.Make(), "redis"},
		{"a registered strategy locks against the system its entry names", fakeLock{}, "aaa-fake"},
		{"an unregistered strategy locks against the first system that takes it", lock.Lua{}, "redis"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sys, err := system.For(tc.strategy)
			if err != nil || sys.Name() != tc.want {
				t.Fatalf("For(%s) = %v, %v; want %s", tc.strategy.Name(), sys, err, tc.want)
			}
		})
	}
}

func TestAStrategyNoSystemTakesIsAnErrorNamingTheInterfaceItLacks(t *testing.T) {
	_, err := system.For(orphan{})
	if !errors.Is(err, system.ErrNoSystem) || !strings.Contains(err.Error(), "lock.RedisStrategy") {
		t.Fatalf("For(orphan) = %v", err)
	}
}

func TestSystemsAreListedRedisFirstThenByName(t *testing.T) {
	all := system.All()
	if len(all) < 2 || all[0].Name() != "redis" || all[1].Name() != "aaa-fake" {
		var names []string
		for _, s := range all {
			names = append(names, s.Name())
		}
		t.Fatalf("systems listed as %v; want redis first, then by name", names)
	}
}

func TestAnUnknownSystemIsAnErrorListingTheKnownOnes(t *testing.T) {
	_, err := system.Lookup("zookeeper")
	if err == nil || !strings.Contains(err.Error(), `unknown system "zookeeper" (known: redis, aaa-fake`) {
		t.Fatalf("Lookup(zookeeper) = %v", err)
	}
}

func TestStrategiesAreListedBySystemRedisFirst(t *testing.T) {
	names := lock.Names()
	if names[len(names)-1] != "fake-lock" {
		t.Fatalf("strategies listed as %v; want Redis's first", names)
	}
	fake, _ := lock.Lookup("fake-lock")
	lua, _ := lock.Lookup("lua")
	if fake.SystemName() != "aaa-fake" || lua.SystemName() != "redis" {
		t.Fatalf("systems of the entries: %s, %s", fake.SystemName(), lua.SystemName())
	}
}
