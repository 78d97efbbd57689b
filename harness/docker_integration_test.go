package harness_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redlock-harness/redlock-harness/checker"
	"github.com/redlock-harness/redlock-harness/harness"
	"github.com/redlock-harness/redlock-harness/harness/cluster"
	"github.com/redlock-harness/redlock-harness/history"
	"github.com/redlock-harness/redlock-harness/lock"
	"github.com/redlock-harness/redlock-harness/scenarios"
)

// needDocker skips the test when no Docker engine answers on this machine, with the reason, unless
// REDLOCK_HARNESS_REQUIRE_DOCKER=1 says that one must (a CI machine with an engine), in which case it fails.
func needDocker(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := cluster.DockerAvailable(ctx)
	if err == nil {
		return
	}
	if errors.Is(err, cluster.ErrDockerUnavailable) && os.Getenv("REDLOCK_HARNESS_REQUIRE_DOCKER") != "1" {
		t.Skipf("no Docker engine: %v", err)
	}
	t.Fatal(err)
}

// dockerContainersOf lists the containers, running or not, that docker ps -a shows with the backend's label and
// the given instance's run label. The run label keeps the check to this test's own containers: other tests may
// run docker backends at the same time.
func dockerContainersOf(t *testing.T, d *cluster.Docker) []string {
	t.Helper()
	run := d.RunID()
	if _, err := exec.LookPath("docker"); err != nil {
		ids, err := d.ContainerIDs(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return ids
	}
	out, err := exec.Command("docker", "ps", "-a", "-q",
		"--filter", "label="+cluster.DockerLabelBackend+"=docker",
		"--filter", "label="+cluster.DockerLabelRun+"="+run).Output()
	if err != nil {
		t.Fatalf("docker ps: %v", err)
	}
	return strings.Fields(string(out))
}

// faultEvents counts the inject and heal events of fault kind in a run's history.
func faultEvents(t *testing.T, dir, kind string) (injected, healed int) {
	t.Helper()
	h, err := history.ReadFile(filepath.Join(dir, "history.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range h.Events {
		if e.Ev != history.EvFault || e.Name != kind {
			continue
		}
		switch e.Phase {
		case history.PhaseInject:
			injected++
		case history.PhaseHeal:
			healed++
		}
	}
	return injected, healed
}

// runOn runs a scenario with one strategy and seed on a backend, and fails the test when the harness could not
// run or reached no verdict.
func runOn(t *testing.T, b cluster.Backend, sc *scenarios.Scenario, strategy string, seed int64, d time.Duration) harness.Result {
	t.Helper()
	info, err := lock.Lookup(strategy)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	res, err := harness.Run(ctx, harness.Config{
		Scenario: sc, Strategy: info.Make(), Seed: seed, Duration: d, Backend: b, OutDir: t.TempDir(),
	})
	if err != nil {
		t.Fatalf("%s on %s: %v", sc.Name, b.Name(), err)
	}
	if res.Verdict != checker.Valid && res.Verdict != checker.Invalid {
		t.Fatalf("%s on %s reached no verdict: %s", sc.Name, b.Name(), res.Summary())
	}
	t.Logf("%s on %s in %s: %s", sc.Name, b.Name(), time.Since(start).Round(time.Millisecond), res.Check.Summary())
	return res
}

func TestEveryFaultKindRunsThroughTheDockerBackendAndLeavesNoContainer(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: not in -short")
	}
	needDocker(t)
	cases := []struct {
		scenario string // a built-in scenario, run shorter than its default
		fault    string // the fault kind that must have been injected and healed
		duration time.Duration
	}{
		{"partition", "partition", 4 * time.Second},
		{"pause", "pause", 5 * time.Second},
		{"crash-restart", "crash-restart", 4 * time.Second},
		{"crash-restart-aof", "crash-restart", 4 * time.Second},
		{"delayed-restart", "crash-restart", 5 * time.Second},
		{"clock-jump", "clock-jump", 4 * time.Second},
		{"failover", "failover", 5 * time.Second},
	}
	two := make(chan struct{}, 2)
	for _, tc := range cases {
		t.Run(tc.scenario, func(t *testing.T) {
			// The runs are mostly waiting on their schedule: two at a time halves the time without changing what
			// each checks; more would have the engine start a dozen containers at once.
			t.Parallel()
			two <- struct{}{}
			defer func() { <-two }()
			sc, err := scenarios.Load(tc.scenario)
			if err != nil {
				t.Fatal(err)
			}
			// A run a third of the scenario's length does a third of its work: the floor below which the verdict
			// is unknown comes down with it, so that a busy machine still gets a verdict.
			sc.MinCriticalSections = 5
			d := &cluster.Docker{}
			res := runOn(t, d, sc, "lua", 1, tc.duration)
			injected, healed := faultEvents(t, res.Dir, tc.fault)
			if injected == 0 || healed != injected {
				t.Errorf("%s: %d injections and %d heals of %s recorded", tc.scenario, injected, healed, tc.fault)
			}
			if left := dockerContainersOf(t, d); len(left) != 0 {
				t.Errorf("containers left after the run: %v", left)
			}
		})
	}
}

// clockJumps moves n1's wall clock 5s ahead every second, while both keys are held (24 workers contend for
// them; holds of 0.4–0.9s, TTL 2s, so no holder renews): each jump expires the lock on n1 at once, the next client
// takes it, and the holder, whose own clock says its lease is valid, writes too. A jump is a change of a file's
// mtime on either backend, with no engine call in between, so its timing is the same on both.
const clockJumps = `description: n1's wall clock jumps 5s ahead every second while every key is held
duration: 4s
keys: 2
ttl: 2s
hold: {min: 400ms, max: 900ms}
think: {min: 0s, max: 20ms}
min_critical_sections: 3
faults:
  - kind: clock-jump
    nodes: [n1]
    jump: 5s
    at: 1s
    for: 500ms
    every: 1s
`

func TestTheDockerAndLocalBackendsBothFindALuaLockBrokenByTheSameFault(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: not in -short")
	}
	needDocker(t)
	jumps, err := scenarios.Parse("clock-jumps", "clock-jumps.yaml", []byte(clockJumps))
	if err != nil {
		t.Fatal(err)
	}
	// crash-restart-single with holds that outlast a restart: a container's restart can take longer than that
	// scenario's holds on a slow machine under the race detector (see the file).
	crashes, err := scenarios.Load("../scenarios/testdata/restart-mid-hold.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		sc       *scenarios.Scenario
		duration time.Duration
	}{
		{"clock-jump", jumps, 0},
		// n1 is SIGKILLed and restarted empty every 2.5s: three crashes in 8s. A restart takes the docker backend
		// 0.2-0.6s (the server's container alone: its network holder stays), the local backend 20ms; either way the
		// lock is back on n1, and taken by a rival, while its holder still works.
		{"crash-restart", crashes, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// One case after the other, one run at a time: a second container start beside a restart slows it.
			const seed = 1
			d := &cluster.Docker{}
			onDocker := runOn(t, d, tc.sc, "lua", seed, tc.duration)
			if left := dockerContainersOf(t, d); len(left) != 0 {
				t.Errorf("containers left after the run: %v", left)
			}
			onLocal := runOn(t, &cluster.Local{}, tc.sc, "lua", seed, tc.duration)
			if onDocker.Verdict != checker.Invalid || onLocal.Verdict != checker.Invalid {
				t.Errorf("docker %s, local %s, want invalid on both\ndocker: %s\nlocal: %s",
					onDocker.Verdict, onLocal.Verdict, onDocker.Summary(), onLocal.Summary())
			}
		})
	}
}
