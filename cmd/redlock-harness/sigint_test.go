package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// faultsUnderCtrlC holds, for every fault kind, a scenario entry that keeps the fault in force for a long
// window, so that Ctrl-C lands while it is active.
var faultsUnderCtrlC = []struct{ kind, entry string }{
	{"latency", "kind: latency\n    latency: 200ms\n    nodes: [n1, n2]"},
	{"partition", "kind: partition\n    shape: majority-minority"},
	{"reply-loss", "kind: reply-loss\n    nodes: [n1]"},
	{"pause", "kind: pause\n    nodes: [n1, n2]"},
	{"crash-restart", "kind: crash-restart\n    nodes: [n1]\n    delay: 2s"},
	{"client-stall", "kind: client-stall\n    count: 2\n    stall: 30s"},
	{"client-crash", "kind: client-crash\n    count: 2"},
	{"clock-jump", "kind: clock-jump\n    nodes: [n1]\n    jump: 5s"},
	{"clock-strobe", "kind: clock-strobe\n    nodes: [n1]\n    jump: 5s\n    period: 200ms"},
	{"failover", "kind: failover\n    nodes: [n1]\n    lag: 300ms"},
}

// nodeDirs returns the data directories of the redis-server processes among pids (their --dir argument).
func nodeDirs(pids []int) []string {
	var dirs []string
	for _, pid := range pids {
		b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(b), "\x00")
		for i, a := range args {
			if a == "--dir" && i+1 < len(args) {
				dirs = append(dirs, args[i+1])
			}
		}
	}
	return dirs
}

func TestCtrlCDuringEachFaultLeavesNoProcessNoDataDirAndAHistoryWithTheHeal(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: not in -short")
	}
	for _, tc := range faultsUnderCtrlC {
		t.Run("ctrl-c while "+tc.kind+" is in force", func(t *testing.T) {
			out := t.TempDir()
			file := filepath.Join(t.TempDir(), "under-"+tc.kind+".yaml")
			yaml := "description: " + tc.kind + " in force when Ctrl-C arrives\nduration: 60s\nkeys: 2\nttl: 1s\n" +
				"hold: {min: 10ms, max: 100ms}\nfaults:\n  - " + tc.entry + "\n    at: 500ms\n    for: 40s\n"
			if err := os.WriteFile(file, []byte(yaml), 0o644); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(binary, "run", "--scenario", file, "--strategy", "redlock", "--out", out, "--quiet")
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			var procs []int
			var hist string
			deadline := time.Now().Add(30 * time.Second)
			for time.Now().Before(deadline) && hist == "" {
				time.Sleep(100 * time.Millisecond)
				matches, _ := filepath.Glob(filepath.Join(out, "*", "redlock", "*", "history.jsonl"))
				if len(matches) == 1 {
					if b, _ := os.ReadFile(matches[0]); bytes.Contains(b, []byte(`"phase":"inject"`)) {
						time.Sleep(300 * time.Millisecond) // well inside the fault's window
						procs = children(cmd.Process.Pid)
						hist = matches[0]
					}
				}
			}
			if hist == "" || len(procs) < 4 {
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatalf("the run did not get going with %s in force (children %v): %s", tc.kind, procs, stderr.String())
			}
			dirs := nodeDirs(procs)
			cmd.Process.Signal(syscall.SIGINT)
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				var ee *exec.ExitError
				if !errors.As(err, &ee) || ee.ExitCode() != 2 {
					t.Fatalf("exit %v, want 2: %s", err, stderr.String())
				}
			case <-time.After(40 * time.Second):
				cmd.Process.Kill()
				t.Fatalf("the run did not stop within 40s of SIGINT: %s", stderr.String())
			}
			for _, pid := range procs {
				if syscall.Kill(pid, 0) == nil {
					t.Errorf("process %d is still running after Ctrl-C", pid)
					syscall.Kill(pid, syscall.SIGCONT)
					syscall.Kill(pid, syscall.SIGKILL)
				}
			}
			for _, d := range dirs {
				if _, err := os.Stat(d); err == nil {
					t.Errorf("node data directory %s is left behind", d)
				}
			}
			// The embedded proxies went with the process: nothing listens on the links' addresses any more.
			var cfg struct {
				Links map[string]string `json:"links"`
			}
			if b, err := os.ReadFile(filepath.Join(filepath.Dir(hist), "config.json")); err != nil || json.Unmarshal(b, &cfg) != nil || len(cfg.Links) == 0 {
				t.Errorf("config.json does not list the run's links: %v", err)
			}
			for name, addr := range cfg.Links {
				if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
					c.Close()
					t.Errorf("proxy %s still listens on %s after Ctrl-C", name, addr)
				}
			}
			b, _ := os.ReadFile(hist)
			if bytes.Count(b, []byte(`"phase":"heal"`)) < bytes.Count(b, []byte(`"phase":"inject"`)) {
				t.Errorf("the history records fewer heals than injections of %s", tc.kind)
			}
		})
	}
}
