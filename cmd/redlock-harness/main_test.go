package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redlock-harness/redlock-harness/checker"
	"github.com/redlock-harness/redlock-harness/harness"
	"github.com/redlock-harness/redlock-harness/harness/cluster"
	"github.com/redlock-harness/redlock-harness/internal/testbin"
	"github.com/redlock-harness/redlock-harness/internal/testslot"
	"github.com/redlock-harness/redlock-harness/scenarios"
)

var binary string

// TestMain builds the binary the tests run, outside the machine's test slot, and runs the tests in it (see
// testslot).
func TestMain(m *testing.M) {
	testslot.Main(m, func() func() {
		var remove func()
		binary, remove = testbin.Build()
		return remove
	})
}

// cli runs the binary and returns its exit code, stdout and stderr.
func cli(t *testing.T, env []string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, out.String(), errb.String()
}

func TestBadInputGetsAClearErrorAndExitCode2(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("duration: 5s\nfaults:\n  - kind: partition\n    shape: donut\n"), 0o644)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"a misspelled scenario lists the known ones", []string{"run", "--scenario", "partitoin"}, `unknown scenario "partitoin"`},
		{"a misspelled strategy lists the known ones", []string{"run", "--scenario", "baseline", "--strategy", "redlok"}, `unknown strategy "redlok"`},
		{"a malformed scenario file names file and line", []string{"run", "--scenario", bad}, bad + ":3: unknown partition shape"},
		{"a run without a scenario says so", []string{"run"}, "--scenario is required"},
		{"an unknown command says so", []string{"frobnicate"}, `unknown command "frobnicate"`},
		{"an unknown backend says so", []string{"run", "--scenario", "baseline", "--backend", "cloud"}, `unknown backend "cloud"`},
		{"check of a missing file says so", []string{"check", filepath.Join(dir, "nope")}, "no such file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := cli(t, nil, tc.args...)
			if code != 2 {
				t.Fatalf("exit %d, want 2\n%s%s", code, out, errOut)
			}
			if !strings.Contains(errOut, tc.want) {
				t.Fatalf("stderr %q does not contain %q", errOut, tc.want)
			}
		})
	}
}

func TestABusyToxiproxyAPIPortIsAClearError(t *testing.T) {
	ln, err := netListen()
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	code, _, errOut := cli(t, nil, "run", "--scenario", "baseline", "--strategy", "lua", "--duration", "1s",
		"--out", t.TempDir(), "--toxiproxy-api", ln.Addr().String())
	if code != 2 || !strings.Contains(errOut, "address already in use") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
}

func TestAMissingRedisServerNamesTheInstallCommand(t *testing.T) {
	code, _, errOut := cli(t, []string{"PATH=" + t.TempDir()}, "run", "--scenario", "baseline", "--strategy", "lua", "--out", t.TempDir())
	if code != 2 || !strings.Contains(errOut, "apt-get install -y redis-server") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
}

func TestListDescribesScenariosStrategiesAndFaults(t *testing.T) {
	code, out, _ := cli(t, nil, "list")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"partition", "redlock", "setnx-del", "lua", "latency", "pause"} {
		if !strings.Contains(out, want) {
			t.Errorf("list does not mention %s", want)
		}
	}
}

func TestCheckGivesTheSameVerdictAsTheRunThatWroteTheHistory(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: not in -short")
	}
	out := t.TempDir()
	code, stdout, errOut := cli(t, nil, "run", "--scenario", "baseline", "--strategy", "lua", "--duration", "3s", "--seed", "5", "--out", out, "--quiet")
	if code != 0 {
		t.Fatalf("run exit %d: %s%s", code, stdout, errOut)
	}
	dir := filepath.Join(out, "baseline", "lua", "latest")
	ccode, cout, cerr := cli(t, nil, "check", dir)
	if ccode != code {
		t.Fatalf("check exit %d, run exit %d: %s%s", ccode, code, cout, cerr)
	}
	if !strings.Contains(cout, "valid") {
		t.Fatalf("check output: %s", cout)
	}
}

// children returns the pids whose parent is pid.
func children(pid int) []int {
	var out []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(b)
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(fields) > 1 && fields[1] == strconv.Itoa(pid) {
			out = append(out, p)
		}
	}
	return out
}

func TestCtrlCHealsStopsEveryNodeKeepsTheHistoryAndExits2(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: not in -short")
	}
	out := t.TempDir()
	cmd := exec.Command(binary, "run", "--scenario", "partition", "--strategy", "redlock", "--duration", "60s", "--out", out, "--quiet")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	hist := filepath.Join(out, "partition", "redlock")
	var nodes []int
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		matches, _ := filepath.Glob(filepath.Join(hist, "*", "history.jsonl"))
		if len(matches) == 1 {
			if b, _ := os.ReadFile(matches[0]); bytes.Count(b, []byte("\n")) > 50 && bytes.Contains(b, []byte(`"phase":"inject"`)) {
				nodes = children(cmd.Process.Pid)
				break
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(nodes) < 5 {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("the run did not get going with a fault in force (children %v): %s", nodes, stderr.String())
	}
	cmd.Process.Signal(syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 {
			t.Fatalf("exit %v, want 2: %s", err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatal("the run did not stop within 30s of SIGINT")
	}
	for _, pid := range nodes {
		if syscall.Kill(pid, 0) == nil {
			t.Errorf("process %d (a node) is still running after Ctrl-C", pid)
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	if !strings.Contains(stdout.String(), "interrupted") {
		t.Errorf("no interruption line: %s", stdout.String())
	}
	matches, _ := filepath.Glob(filepath.Join(hist, "*", "history.jsonl"))
	b, _ := os.ReadFile(matches[0])
	if !bytes.Contains(b, []byte(`"phase":"heal"`)) {
		t.Error("the history does not record the partition's heal")
	}
	if code, cout, cerr := cli(t, nil, "check", filepath.Dir(matches[0])); code == 2 && !strings.Contains(cout, "unknown") {
		t.Errorf("check could not read the interrupted history: %s%s", cout, cerr)
	}
}

func netListen() (interface {
	Close() error
	Addr() net.Addr
}, error) {
	return net.Listen("tcp", "127.0.0.1:0")
}

func TestASteadyOnlyGateHoldsOnlyTheCellsMeasuredTheSameOnEverySeed(t *testing.T) {
	dir := t.TempDir()
	exp := filepath.Join(dir, "exp.yaml")
	os.WriteFile(exp, []byte("baseline:\n  lua: {expect: safe, why: t}\n  redlock: {expect: safe, may_stall: true, why: t}\n"+
		"latency:\n  lua: {expect: unsafe, share: 0.3, why: t}\n"), 0o644)
	// A saved one-seed matrix in which the unsteady cells would fail: redlock stalled, lua under latency not caught.
	saved := filepath.Join(dir, "matrix.json")
	os.WriteFile(saved, []byte(`{"seeds":[1],"cells":[
{"scenario":"baseline","strategy":"lua","runs":[{"seed":1,"verdict":"valid","written":90,"min_written":20}]},
{"scenario":"baseline","strategy":"redlock","runs":[{"seed":1,"verdict":"unknown","written":3,"min_written":20}]},
{"scenario":"latency","strategy":"lua","runs":[{"seed":1,"verdict":"valid","written":60,"min_written":20}]}]}`), 0o644)
	code, out, errOut := cli(t, nil, "gate", "--expectations", exp, "--from", saved, "--out", dir)
	if code != 1 {
		t.Fatalf("the full gate exit %d, want 1 (two unsteady cells fail on this seed)\n%s%s", code, out, errOut)
	}
	code, out, errOut = cli(t, nil, "gate", "--steady-only", "--expectations", exp, "--from", saved, "--out", dir)
	if code != 0 {
		t.Fatalf("the steady-only gate exit %d, want 0\n%s%s", code, out, errOut)
	}
	if !strings.Contains(out, "not held in this profile") || !strings.Contains(out, "baseline/redlock, latency/lua") || !strings.Contains(out, "1 of 1 cells pass") {
		t.Fatalf("the steady-only gate does not say which cells it left out:\n%s", out)
	}
}

func TestARunOfSeveralStrategiesEndsWithALineThatTalliesTheVerdictsAndExplainsTheExitCode(t *testing.T) {
	tests := []struct {
		name     string
		verdicts map[checker.Verdict][]string
		stalled  []string
		code     int
		want     string
	}{
		{"all valid", map[checker.Verdict][]string{checker.Valid: {"lua", "redlock"}}, nil, exitValid, "partition: 2 valid; exit 0: every lock kept mutual exclusion"},
		{"one stalled", map[checker.Verdict][]string{checker.Valid: {"lua"}, checker.Unknown: {"redlock-naive"}}, nil, exitNoRun, "partition: 1 valid, 1 unknown (redlock-naive); exit 2: a verdict is unknown"},
		{"one stalled as expected", map[checker.Verdict][]string{checker.Valid: {"lua"}, checker.Unknown: {"redlock-naive"}}, []string{"redlock-naive"}, exitValid, "partition: 1 valid, 1 unknown (redlock-naive); exit 0: no lock was found violating mutual exclusion; redlock-naive did too little work, as scenarios/expectations.yaml expects of it here"},
		{"one broken, one stalled", map[checker.Verdict][]string{checker.Invalid: {"setnx-del"}, checker.Unknown: {"redlock-naive"}}, nil, exitNoRun, "1 invalid (setnx-del), 1 unknown (redlock-naive); exit 2: a violation was found, and a verdict is unknown"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tally("partition", tc.verdicts, tc.stalled, tc.code); !strings.Contains(got, tc.want) {
				t.Fatalf("got %q, want it to contain %q", got, tc.want)
			}
		})
	}
}

func TestTheExternalBackendRunsAgainstServersNamedOnTheCommandLine(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: not in -short")
	}
	own := &cluster.Local{ExtraArgs: []string{"--requirepass", "s3cret"}}
	nodes, err := own.Start(context.Background(), cluster.Spec{Nodes: 5})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { own.Stop(context.Background()) })
	var addrs []string
	for _, n := range nodes {
		addrs = append(addrs, n.Addr)
	}
	out := t.TempDir()
	code, stdout, stderr := cli(t, []string{"REDIS_PASSWORD=s3cret"}, "run", "--backend", "external", "--nodes", strings.Join(addrs, ","),
		"--scenario", "baseline", "--strategy", "redlock", "--duration", "3s", "--out", out)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	code, _, stderr = cli(t, nil, "run", "--backend", "external", "--nodes", strings.Join(addrs, ","),
		"--scenario", "pause", "--strategy", "redlock", "--duration", "3s", "--out", out, "--password", "s3cret")
	if code != 2 || !strings.Contains(stderr, "--hook-pause") {
		t.Fatalf("a pause without hooks: exit %d\n%s", code, stderr)
	}
}

func TestInARunOfSeveralStrategiesOnlyAnUnknownTheTruthTableDidNotExpectRaisesTheExitCode(t *testing.T) {
	exp, err := scenarios.LoadExpectations("")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		strategy string
		written  int
		code     int
	}{
		{"redlock-naive, expected to stall under partition and short of work, leaves exit 0", "redlock-naive", 3, exitValid},
		{"redlock-naive, unknown with work enough (its check ran out of time), makes it exit 2", "redlock-naive", 30, exitNoRun},
		{"lua, expected safe under partition, makes it exit 2", "lua", 3, exitNoRun},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tl := &runTally{code: exitValid, verdicts: map[checker.Verdict][]string{}, expect: exp}
			res := harness.Result{Scenario: "partition", Strategy: tc.strategy, Seed: 1, Verdict: checker.Unknown}
			res.Check.MinCriticalSections = 20
			res.Check.Liveness.All.CS.Written = tc.written
			tl.add("partition", tc.strategy, res, nil, io.Discard, io.Discard)
			if tl.code != tc.code {
				t.Fatalf("exit %d, want %d", tl.code, tc.code)
			}
		})
	}
}
