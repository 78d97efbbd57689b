package scenarios_test

import (
	"strings"
	"testing"
	"time"

	"github.com/redlock-harness/redlock-harness/lock"
	"github.com/redlock-harness/redlock-harness/scenarios"
)

func TestEveryBuiltinScenarioLoads(t *testing.T) {
	names := scenarios.Names()
	if len(names) < 4 {
		t.Fatalf("only %d built-in scenarios: %v", len(names), names)
	}
	for _, n := range names {
		s, err := scenarios.Load(n)
		if err != nil {
			t.Errorf("%s: %v", n, err)
			continue
		}
		if s.Description == "" {
			t.Errorf("%s has no description", n)
		}
	}
}

func TestLoadingRejectsBadInputWithFileAndLine(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want string
	}{
		{"an unknown field names its line", "duration: 5s\nbogus: 1\n", "x.yaml:2: field bogus not found"},
		{"a bad duration names its line", "duration: 5 seconds\n", "x.yaml:1: bad duration \"5 seconds\""},
		{"an unknown fault kind names the fault's line", "duration: 5s\nfaults:\n  - kind: meteor\n    at: 1s\n", "x.yaml:3: unknown fault \"meteor\""},
		{"an unknown node names the fault's line", "duration: 5s\nfaults:\n  - kind: pause\n    nodes: [n9]\n    at: 1s\n", "x.yaml:3: pause: unknown node \"n9\""},
		{"an unknown group names the fault's line", "duration: 5s\nfaults:\n  - kind: latency\n    latency: 1s\n    groups: [g7]\n", "x.yaml:3: latency: unknown client group \"g7\""},
		{"a parameter the fault does not take is refused", "duration: 5s\nfaults:\n  - kind: pause\n    latency: 1s\n", "x.yaml:3: pause does not take latency"},
		{"a partition without a shape is refused", "duration: 5s\nfaults:\n  - kind: partition\n", "x.yaml:3: partition needs shape"},
		{"a partition striking unknown flows is refused", "duration: 5s\nfaults:\n  - kind: partition\n    shape: isolate-node\n    flows: some\n", "x.yaml:3: unknown partition flows \"some\""},
		{"a missing duration is refused", "ttl: 1s\n", "x.yaml: duration must be set"},
		{"an unknown client behaviour names its line", "duration: 5s\nclient: reckless\n", "x.yaml:2: client must be careful, careless or greedy"},
		{"an unknown strategy names its line", "duration: 5s\nstrategies: [nope]\n", "x.yaml:2: unknown strategy \"nope\""},
		{"a fault after the end of the run is refused", "duration: 5s\nfaults:\n  - kind: pause\n    at: 6s\n", "x.yaml:3: pause: at 6s is not before the end"},
		{"an empty file is refused", "", "x.yaml: empty scenario file"},
		{"a hold range upside down is refused", "duration: 5s\nhold: {min: 2s, max: 1s}\n", "x.yaml:2: hold.min 2s is above hold.max 1s"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := scenarios.Parse("x", "x.yaml", []byte(tc.yaml))
			if err == nil {
				t.Fatalf("accepted:\n%s", tc.yaml)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

func TestAMisspelledScenarioNameListsTheKnownOnes(t *testing.T) {
	_, err := scenarios.Load("partitoin")
	if err == nil || !strings.Contains(err.Error(), "unknown scenario \"partitoin\"") || !strings.Contains(err.Error(), "partition") {
		t.Fatalf("got %v", err)
	}
}

func TestDefaultsAreFilledIn(t *testing.T) {
	s, err := scenarios.Parse("x", "x.yaml", []byte("duration: 5s\n"))
	if err != nil {
		t.Fatal(err)
	}
	if s.Nodes != 5 || s.Groups != 3 || s.Workers != 8 || s.Keys != 1 || s.Client != "careful" || s.MinCriticalSections != 20 {
		t.Fatalf("defaults not applied: %+v", s)
	}
}

func TestAScheduleRepeatsEveryPeriodUntilTheEndOfTheRun(t *testing.T) {
	s, err := scenarios.Parse("x", "x.yaml", []byte("duration: 10s\nfaults:\n  - kind: pause\n    at: 1s\n    for: 2s\n    every: 4s\n"))
	if err != nil {
		t.Fatal(err)
	}
	w := s.Faults[0].Schedule(s.Duration.D())
	if len(w) != 3 || w[0].From.Seconds() != 1 || w[0].To.Seconds() != 3 || w[2].From.Seconds() != 9 || w[2].To.Seconds() != 10 {
		t.Fatalf("schedule %v", w)
	}
}

func FuzzParseNeverPanics(f *testing.F) {
	for _, n := range scenarios.Names() {
		b, _ := scenarios.Builtin(n + ".yaml")
		f.Add(b)
	}
	f.Add([]byte("duration: 5s\nfaults:\n  - kind: partition\n    shape: bridge\n"))
	f.Add([]byte("{{{"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := scenarios.Parse("fuzz", "fuzz.yaml", data)
		if err == nil && s.Duration <= 0 {
			t.Fatalf("accepted a scenario without a duration")
		}
	})
}

func TestAStrategysOwnOptionsAreDecodedStrictlyIntoItsType(t *testing.T) {
	tests := []struct {
		name, options, want string
	}{
		{"a parameter the strategy declares configures it", "lua-watchdog: {renewal: 2s}", ""},
		{"a key the strategy does not declare is refused with the keys it takes", "lua-watchdog: {renwal: 2s}", "x.yaml:3: lua-watchdog does not take renwal (its parameters: renewal)"},
		{"a strategy without parameters takes no options", "lua: {renewal: 2s}", "x.yaml:3: strategy lua takes no options"},
		{"an unknown strategy is refused", "luaa: {renewal: 2s}", `x.yaml:3: unknown strategy "luaa"`},
		{"a value of the wrong type is refused", "lua-watchdog: {renewal: soon}", "x.yaml:3"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := scenarios.Parse("x", "x.yaml", []byte("duration: 5s\nstrategy_options:\n  "+tc.options+"\n"))
			if tc.want != "" {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("got %v, want an error containing %q", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := s.Strategy(lock.LuaWatchdog{})
			if w, ok := got.(lock.LuaWatchdog); !ok || w.Renewal != 2*time.Second {
				t.Fatalf("the scenario's lua-watchdog is %#v, want Renewal 2s", got)
			}
			if other := s.Strategy(lock.Lua{}); other != (lock.Lua{}) {
				t.Fatalf("a strategy the options do not name changed: %#v", other)
			}
		})
	}
}
