package harness_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redlock-harness/redlock-harness/checker"
	"github.com/redlock-harness/redlock-harness/harness"
	"github.com/redlock-harness/redlock-harness/harness/cluster"
	"github.com/redlock-harness/redlock-harness/history"
	"github.com/redlock-harness/redlock-harness/lock"
	"github.com/redlock-harness/redlock-harness/scenarios"
)

// usersServers starts five password-protected redis-servers the way a user's own would be: the harness under test
// only gets their addresses. One of them holds a key of the user's.
func usersServers(t *testing.T) (*cluster.Local, []string) {
	t.Helper()
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
	c := redis.NewClient(&redis.Options{Addr: addrs[0], Password: "s3cret"})
	defer c.Close()
	if err := c.Set(context.Background(), "user:data", "keep me", 0).Err(); err != nil {
		t.Fatal(err)
	}
	return own, addrs
}

// keysOn lists every key on the server.
func keysOn(t *testing.T, addr string) []string {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, Password: "s3cret"})
	defer c.Close()
	keys, err := c.Keys(context.Background(), "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

func TestAnExternalBackendRunsTheLocksAgainstTheUsersServersAndLeavesNoKeyOfItsOwn(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: not in -short")
	}
	_, addrs := usersServers(t)
	for _, st := range []string{"lua", "redlock", "fenced"} {
		t.Run(st, func(t *testing.T) {
			be, err := cluster.NewExternal(cluster.External{Addrs: addrs, Password: "s3cret"})
			if err != nil {
				t.Fatal(err)
			}
			info, _ := lock.Lookup(st)
			res, err := harness.Run(context.Background(), harness.Config{Scenario: scenarios.MustLoad("partition-drop"), Strategy: info.Make(),
				Seed: 1, Duration: 8 * time.Second, Backend: be, OutDir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			if res.Verdict != checker.Valid {
				t.Fatalf("%s", res.Summary())
			}
			for i, a := range addrs {
				keys := keysOn(t, a)
				if i == 0 && (len(keys) != 1 || keys[0] != "user:data") {
					t.Fatalf("n1 holds %v: the user's key must stay, the run's must go", keys)
				}
				if i > 0 && len(keys) != 0 {
					t.Fatalf("n%d holds %v after the run", i+1, keys)
				}
			}
		})
	}
}

func TestAnExternalBackendRefusesNodeFaultsWithoutHooksAndRunsThemWithHooks(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: not in -short")
	}
	own, addrs := usersServers(t)
	sc := scenarios.MustLoad("pause")
	be, _ := cluster.NewExternal(cluster.External{Addrs: addrs, Password: "s3cret"})
	_, err := harness.Run(context.Background(), harness.Config{Scenario: sc, Strategy: lock.Lua{}, Seed: 1, Backend: be, OutDir: t.TempDir()})
	if !errors.Is(err, harness.ErrSetup) || !strings.Contains(err.Error(), "external backend cannot pause") {
		t.Fatalf("pause without hooks: %v", err)
	}
	// The user's own way to pause a server: here, SIGSTOP to its process, found by its port (no replicas: one
	// process per address, in order).
	dir := t.TempDir()
	for i, pid := range own.PIDs() {
		_, port, _ := strings.Cut(addrs[i], ":")
		_ = os.WriteFile(filepath.Join(dir, port), []byte(strconv.Itoa(pid)), 0o644)
	}
	hook := func(sig string) string { return "kill -" + sig + " $(cat " + dir + "/$(echo {addr} | cut -d: -f2))" }
	be, _ = cluster.NewExternal(cluster.External{Addrs: addrs, Password: "s3cret",
		Hooks: cluster.Hooks{Pause: hook("STOP"), Resume: hook("CONT")}})
	res, err := harness.Run(context.Background(), harness.Config{Scenario: sc, Strategy: lock.Lua{}, Seed: 1, Duration: 4 * time.Second,
		Backend: be, OutDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	h, err := history.ReadFile(filepath.Join(res.Dir, "history.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range h.Events {
		if e.Ev == history.EvFault && e.Name == "pause" && e.Phase == history.PhaseHeal && e.Error == "" {
			return
		}
	}
	t.Fatalf("no pause injected and healed through the hooks: %s", res.Summary())
}

func TestAnExternalServerOffLoopbackNeedsToBeAllowed(t *testing.T) {
	if _, err := cluster.NewExternal(cluster.External{Addrs: []string{"10.1.2.3:6379"}}); err == nil || !strings.Contains(err.Error(), "--allow-remote") {
		t.Fatalf("error %v", err)
	}
	if _, err := cluster.NewExternal(cluster.External{Addrs: []string{"10.1.2.3:6379"}, AllowRemote: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := cluster.NewExternal(cluster.External{}); err == nil {
		t.Fatal("no servers accepted")
	}
}
