package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/redlock-harness/redlock-harness/checker"
	"github.com/redlock-harness/redlock-harness/harness/cluster"
	"github.com/redlock-harness/redlock-harness/history"
	"github.com/redlock-harness/redlock-harness/lock"
	"github.com/redlock-harness/redlock-harness/scenarios"
)

// exitBound is how long a run may take to exit after Ctrl-C before it counts as hung.
const exitBound = 60 * time.Second

// ownerTagOf is the harness process's owner tag (cluster.OwnerTag as that process computes it).
func ownerTagOf(pid int) string {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return ""
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 20 {
		return ""
	}
	return strconv.Itoa(pid) + ":" + f[19]
}

// dockerReady says whether the interrupt tests use the docker backend too; CI (REDLOCK_HARNESS_REQUIRE_DOCKER=1)
// must have it.
func dockerReady(t *testing.T) bool {
	err := cluster.DockerAvailable(context.Background())
	if err != nil && os.Getenv("REDLOCK_HARNESS_REQUIRE_DOCKER") == "1" {
		t.Fatalf("docker backend required: %v", err)
	}
	return err == nil
}

// leftovers lists what a harness process left behind once it has exited: redis-server processes serving a
// directory under tmp (its TMPDIR), node directories in tmp, containers it owned, and listening node or proxy
// ports named in its config.json.
func leftovers(tmp, tag, runDir string) []string {
	var out []string
	for _, pid := range cluster.ProcessesIn("redis-server", tmp) {
		out = append(out, "redis-server pid "+strconv.Itoa(pid))
		syscall.Kill(pid, syscall.SIGCONT)
		syscall.Kill(pid, syscall.SIGKILL)
	}
	dirs, _ := filepath.Glob(filepath.Join(tmp, "redlock-harness-*"))
	for _, d := range dirs {
		out = append(out, "directory "+d)
	}
	if ids := containersOwnedBy(tag); len(ids) > 0 {
		out = append(out, fmt.Sprintf("%d container(s)", len(ids)))
		removeContainers(ids)
	}
	var cfg struct {
		Nodes []cluster.Node    `json:"nodes"`
		Links map[string]string `json:"links"`
	}
	if b, err := os.ReadFile(filepath.Join(runDir, "config.json")); err == nil && json.Unmarshal(b, &cfg) == nil {
		addrs := []string{}
		for _, n := range cfg.Nodes {
			if strings.HasPrefix(n.Addr, "127.") {
				addrs = append(addrs, n.Addr)
			}
		}
		for _, a := range cfg.Links {
			addrs = append(addrs, a)
		}
		for _, a := range addrs {
			if c, err := net.DialTimeout("tcp", a, 200*time.Millisecond); err == nil {
				c.Close()
				// Tests run side by side: another run may have taken the port since, and another run's harness
				// listens on ports of its own. It is a leftover only if what listens is this run's: a process
				// that works in this run's directory (a redis-server, which rewrites its command line), names it
				// on its command line (a postgres -D), or inherited this run's TMPDIR (an etcd member, whose
				// command line is the bare executable).
				if o, found := portOwner(a); !found || o.under(tmp) {
					out = append(out, fmt.Sprintf("listening %s (%s)", a, o))
				}
			}
		}
	}
	return out
}

// owner is what /proc shows of a process listening on a port.
type owner struct {
	cmdline, cwd string
	environ      []string
}

// under says whether the process belongs to the run whose temporary directory is tmp.
func (o owner) under(tmp string) bool {
	return strings.Contains(o.cmdline, tmp) || o.cwd == tmp || strings.HasPrefix(o.cwd, tmp+"/") ||
		slices.Contains(o.environ, "TMPDIR="+tmp)
}

// String is the owner's command line, for a message.
func (o owner) String() string { return o.cmdline }

// portOwner returns the process listening on addr's port, and whether one was found.
func portOwner(addr string) (owner, bool) {
	_, port, _ := net.SplitHostPort(addr)
	p, _ := strconv.Atoi(port)
	inodes := map[string]bool{}
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, _ := os.ReadFile(f)
		for _, line := range strings.Split(string(b), "\n")[1:] {
			fs := strings.Fields(line)
			if len(fs) < 10 || fs[3] != "0A" { // 0A: LISTEN
				continue
			}
			if _, hexPort, ok := strings.Cut(fs[1], ":"); ok {
				if n, err := strconv.ParseInt(hexPort, 16, 32); err == nil && int(n) == p {
					inodes["socket:["+fs[9]+"]"] = true
				}
			}
		}
	}
	procs, _ := os.ReadDir("/proc")
	for _, pr := range procs {
		fds, err := os.ReadDir(filepath.Join("/proc", pr.Name(), "fd"))
		if err != nil {
			continue
		}
		for _, fd := range fds {
			if l, err := os.Readlink(filepath.Join("/proc", pr.Name(), "fd", fd.Name())); err == nil && inodes[l] {
				b, _ := os.ReadFile(filepath.Join("/proc", pr.Name(), "cmdline"))
				e, _ := os.ReadFile(filepath.Join("/proc", pr.Name(), "environ"))
				cwd, _ := os.Readlink(filepath.Join("/proc", pr.Name(), "cwd"))
				return owner{strings.ReplaceAll(string(b), "\x00", " "), cwd, strings.Split(string(e), "\x00")}, true
			}
		}
	}
	return owner{}, false
}

func dockerClient() (*client.Client, error) {
	return client.New(client.FromEnv)
}

func containersOwnedBy(tag string) []string {
	if tag == "" {
		return nil
	}
	c, err := dockerClient()
	if err != nil {
		return nil
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := c.ContainerList(ctx, client.ContainerListOptions{All: true,
		Filters: make(client.Filters).Add("label", "org.redlock-harness.owner="+tag)})
	if err != nil {
		return nil
	}
	var ids []string
	for _, s := range res.Items {
		ids = append(ids, s.ID)
	}
	return ids
}

func removeContainers(ids []string) {
	c, err := dockerClient()
	if err != nil {
		return
	}
	defer c.Close()
	for _, id := range ids {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		c.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true})
		cancel()
	}
}

// interruptTally counts what the seeded interrupts found.
type interruptTally struct {
	mu                                  sync.Mutex
	runs, docker, hung, left, unreadble int
	withHistory                         int
	slowest                             time.Duration
}

func TestCtrlCAtSeededMomentsAcrossEveryScenarioAndBothBackendsEndsCleanly(t *testing.T) {
	if testing.Short() {
		t.Skip("50 interrupted runs: not in -short")
	}
	useDocker := dockerReady(t)
	names := scenarios.Names()
	strategies := lock.Names()
	var tally interruptTally
	t.Run("interrupts", func(t *testing.T) {
		sem := make(chan struct{}, 2)
		for i := range 50 {
			seed := int64(i + 1)
			rng := rand.New(rand.NewPCG(uint64(seed), 0x1c))
			sc := names[i%len(names)]
			be := "local"
			if useDocker && i%3 == 2 {
				be = "docker"
			}
			st := strategies[rng.IntN(len(strategies))]
			// From the start of the process: before the nodes are up, while they start, or deep into the run.
			maxDelay := 5 * time.Second
			if be == "docker" {
				maxDelay = 9 * time.Second
			}
			delay := time.Duration(rng.Int64N(int64(maxDelay)))
			t.Run(fmt.Sprintf("%02d-%s-%s-%s", seed, be, sc, st), func(t *testing.T) {
				t.Parallel()
				sem <- struct{}{}
				defer func() { <-sem }()
				interruptOnce(t, &tally, sc, st, be, seed, delay)
			})
		}
	})
	t.Logf("interrupts: %d runs (%d on docker), %d hung, %d left something behind, %d histories unreadable (of %d written); slowest exit %s",
		tally.runs, tally.docker, tally.hung, tally.left, tally.unreadble, tally.withHistory, tally.slowest.Round(time.Millisecond))
}

func interruptOnce(t *testing.T, tally *interruptTally, sc, st, be string, seed int64, delay time.Duration) {
	tmp, out := t.TempDir(), t.TempDir()
	cmd := exec.Command(binary, "run", "--scenario", sc, "--strategy", st, "--seed", strconv.FormatInt(seed, 10),
		"--backend", be, "--out", out, "--quiet")
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tag := ownerTagOf(cmd.Process.Pid)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	exited := false
	select {
	case err = <-done:
		exited = true // it ended before the interrupt (a fast failure): judged below like any exit
	case <-time.After(delay):
	}
	start := time.Now()
	hung := false
	if !exited {
		cmd.Process.Signal(syscall.SIGINT)
		select {
		case err = <-done:
		case <-time.After(exitBound):
			hung = true
			cmd.Process.Kill()
			<-done
		}
	}
	took := time.Since(start)
	var ee *exec.ExitError
	code := 0
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	}
	runDirs, _ := filepath.Glob(filepath.Join(out, sc, st, "*-seed*"))
	runDir := ""
	if len(runDirs) > 0 {
		runDir = runDirs[0]
	}
	left := leftovers(tmp, tag, runDir)
	unreadable := false
	if runDir != "" {
		if _, serr := os.Stat(filepath.Join(runDir, "history.jsonl")); serr == nil {
			h, rerr := history.ReadFile(filepath.Join(runDir, "history.jsonl"))
			if rerr != nil {
				unreadable = true
			} else {
				_ = checker.Check(h, checker.Options{Timeout: 10 * time.Second})
			}
		}
	}
	tally.mu.Lock()
	tally.runs++
	if be == "docker" {
		tally.docker++
	}
	if hung {
		tally.hung++
	}
	if len(left) > 0 {
		tally.left++
	}
	if unreadable {
		tally.unreadble++
	}
	if runDir != "" {
		tally.withHistory++
	}
	tally.slowest = max(tally.slowest, took)
	tally.mu.Unlock()
	// A SIGINT that lands while the Go runtime and the packages' initialisers are still running, before main
	// installs its handler (its first statement), kills the process outright, as it would any program. How long
	// that start takes depends on the machine's load (a race-instrumented binary on a busy machine took 393 ms), so
	// the proof is what the process left, not a time bound: it made no run directory, and the leftovers check below
	// confirms it started nothing.
	killedEarly := errors.As(err, &ee) && ee.ProcessState.Sys().(syscall.WaitStatus).Signal() == syscall.SIGINT &&
		runDir == ""
	switch {
	case hung:
		t.Errorf("interrupted after %s, did not exit within %s: %s", delay, exitBound, stderr.String())
	case killedEarly:
	case code != 0 && code != 1 && code != 2:
		t.Errorf("interrupted after %s: exit %v: %s", delay, err, stderr.String())
	}
	if len(left) > 0 {
		t.Errorf("interrupted after %s, left behind: %s", delay, strings.Join(left, ", "))
	}
	if unreadable {
		t.Errorf("interrupted after %s: its history cannot be read back", delay)
	}
}

func TestAHarnessKilledOutrightLeavesNoNodeAndTheNextRunSweepsWhatItLeft(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: not in -short")
	}
	for _, be := range []string{"local", "docker"} {
		t.Run(be, func(t *testing.T) {
			if be == "docker" && !dockerReady(t) {
				t.Skip("no docker engine")
			}
			tmp, out := t.TempDir(), t.TempDir()
			cmd := exec.Command(binary, "run", "--scenario", "baseline", "--strategy", "lua", "--backend", be,
				"--duration", "60s", "--out", out, "--quiet")
			cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			tag := ownerTagOf(cmd.Process.Pid)
			deadline := time.Now().Add(60 * time.Second)
			for {
				if m, _ := filepath.Glob(filepath.Join(out, "baseline", "lua", "*", "history.jsonl")); len(m) > 0 {
					break
				}
				if time.Now().After(deadline) {
					cmd.Process.Kill()
					cmd.Wait()
					t.Fatal("the run did not start")
				}
				time.Sleep(100 * time.Millisecond)
			}
			cmd.Process.Kill() // SIGKILL: no cleanup of its own
			cmd.Wait()
			// Its local nodes die with it (parent-death signal).
			for wait := time.Now().Add(5 * time.Second); ; time.Sleep(100 * time.Millisecond) {
				if len(serversUnder(tmp)) == 0 {
					break
				}
				if time.Now().After(wait) {
					t.Fatalf("redis-server processes outlived the killed harness: %v", serversUnder(tmp))
				}
			}
			// The next run sweeps what it left: node directories, containers.
			code, _, stderr := cli(t, []string{"TMPDIR=" + tmp}, "run", "--scenario", "baseline", "--strategy", "lua",
				"--backend", be, "--duration", "1s", "--out", t.TempDir(), "--quiet")
			if code == 2 && strings.Contains(stderr, "could not") {
				t.Fatalf("the next run could not run: %s", stderr)
			}
			if dirs, _ := filepath.Glob(filepath.Join(tmp, "redlock-harness-*")); len(dirs) > 0 {
				t.Errorf("the next run left the killed run's directories: %v", dirs)
			}
			if ids := containersOwnedBy(tag); len(ids) > 0 {
				removeContainers(ids)
				t.Errorf("the next run left %d container(s) of the killed run", len(ids))
			}
		})
	}
}

// serversUnder lists the redis-server processes serving a directory under dir.
func serversUnder(dir string) []int { return cluster.ProcessesIn("redis-server", dir) }

func TestTheLeftoversCheckNamesAServerOfTheRunAndNotOneOfARunBesideIt(t *testing.T) {
	if testing.Short() {
		t.Skip("starts redis-servers: not in -short")
	}
	server, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("no redis-server")
	}
	tmp := t.TempDir()
	// serve starts a server on a free port serving dir, as the local backend starts its nodes.
	serve := func(dir string) string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		_, port, _ := net.SplitHostPort(addr)
		cmd := exec.Command(server, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		for range 250 {
			if c, err := net.Dial("tcp", addr); err == nil {
				c.Close()
				return addr
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("redis-server did not listen on %s", addr)
		return ""
	}
	tests := []struct {
		name string
		dir  string
		left bool
	}{
		{"a server of the run, in its temporary directory, is a leftover", tmp, true},
		{"a server of another run beside it is not", t.TempDir(), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			runDir := t.TempDir()
			cfg, _ := json.Marshal(map[string]any{"nodes": []cluster.Node{{Name: "n1", Addr: serve(tc.dir)}}})
			if err := os.WriteFile(filepath.Join(runDir, "config.json"), cfg, 0o644); err != nil {
				t.Fatal(err)
			}
			if left := leftovers(tmp, "", runDir); (len(left) > 0) != tc.left {
				t.Fatalf("leftovers %v, want some: %v", left, tc.left)
			}
		})
	}
}
