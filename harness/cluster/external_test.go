package cluster

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestTheExternalBackendConforms runs the suite on password-protected servers standing in for a user's own,
// with hooks for every node fault.
func TestTheExternalBackendConforms(t *testing.T) {
	conformance(t, backendCase{
		new: func(t *testing.T) Backend {
			own, addrs := usersServers(t)
			b, err := NewExternal(External{Addrs: addrs, Password: "s3cret", Hooks: serveHooks(t, own)})
			if err != nil {
				t.Fatal(err)
			}
			return b
		},
		track:  trackExternal,
		hooked: true,
	})
}

func TestAnExternalBackendsStopLeavesTheUsersOwnKeys(t *testing.T) {
	_, addrs := usersServers(t)
	b, err := NewExternal(External{Addrs: addrs, Password: "s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	nodes := start(t, b, Spec{Nodes: 1})
	ctx := context.Background()
	c := clientFor(b, nodes[0].Addr)
	defer c.Close()
	for _, k := range []string{"user:data", key(b, "lock"), "fence:" + key(b, "lock")} {
		if err := c.Set(ctx, k, "1", 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if keys, err := c.Keys(ctx, "*").Result(); err != nil || len(keys) != 1 || keys[0] != "user:data" {
		t.Fatalf("after Stop the server holds %v (%v): the user's key must stay, the run's must go", keys, err)
	}
}

// usersServers starts three password-protected redis-servers the way a user's own would be, and stops them when
// t ends: the External backend under test only gets their addresses.
func usersServers(t *testing.T) (*Local, []string) {
	t.Helper()
	own := &Local{ExtraArgs: []string{"--requirepass", "s3cret"}}
	t.Cleanup(func() { own.Stop(context.Background()) })
	nodes, err := own.Start(context.Background(), Spec{Nodes: 3})
	if err != nil {
		t.Fatal(err)
	}
	var addrs []string
	for _, n := range nodes {
		addrs = append(addrs, n.Addr)
	}
	return own, addrs
}

// trackExternal sees the keys the run put on the user's servers, under its prefix (and their fencing counters):
// they carry no owner, and what is left is any of them still there.
func trackExternal(t *testing.T, b Backend, nodes []Node) ([]string, func() []string) {
	prefix := b.(KeyPrefixer).KeyPrefix()
	return nil, func() []string {
		var left []string
		for _, n := range nodes {
			c := clientFor(b, n.Addr)
			for _, pattern := range []string{prefix + "*", "fence:" + prefix + "*"} {
				keys, err := c.Keys(context.Background(), pattern).Result()
				if err != nil {
					t.Fatal(err)
				}
				left = append(left, keys...)
			}
			c.Close()
		}
		return left
	}
}

// serveHooks returns hooks that carry out the node faults on own, the servers standing in for the user's: a
// hook drops a request ("pause n2") into a directory and waits for the answer, "ok" or the error, which this
// process writes after calling own. It stops answering when t ends.
func serveHooks(t *testing.T, own *Local) Hooks {
	t.Helper()
	dir, err := os.MkdirTemp("", "cluster-hooks-")
	if err != nil {
		t.Fatal(err)
	}
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				answerHooks(dir, own)
			}
		}
	}()
	t.Cleanup(func() {
		close(stop)
		<-done
		_ = os.RemoveAll(dir)
	})
	hook := func(op string) string {
		return fmt.Sprintf(`id=$$; d=%s; printf '%s {node}' > $d/new-$id && mv $d/new-$id $d/req-$id && `+
			`while [ ! -e $d/res-$id ]; do sleep 0.02; done; r=$(cat $d/res-$id); rm -f $d/res-$id; `+
			`[ "$r" = ok ] || { echo "$r"; exit 1; }`, dir, op)
	}
	return Hooks{Pause: hook("pause"), Resume: hook("resume"), Kill: hook("kill"), Restart: hook("restart")}
}

// answerHooks carries out the requests waiting in dir, one after the other, and writes each one's answer whole
// (written aside, then renamed) for its hook to read.
func answerHooks(dir string, own *Local) {
	reqs, _ := filepath.Glob(filepath.Join(dir, "req-*"))
	for _, req := range reqs {
		b, err := os.ReadFile(req)
		_ = os.Remove(req)
		if err == nil {
			err = doHook(own, string(b))
		}
		answer := "ok"
		if err != nil {
			answer = strings.ReplaceAll(err.Error(), "\n", " ")
		}
		id := strings.TrimPrefix(filepath.Base(req), "req-")
		aside := filepath.Join(dir, "ans-"+id)
		if os.WriteFile(aside, []byte(answer), 0o644) == nil {
			_ = os.Rename(aside, filepath.Join(dir, "res-"+id))
		}
	}
}

// doHook carries out one request, "op node", on own.
func doHook(own *Local, request string) error {
	op, node, _ := strings.Cut(strings.TrimSpace(request), " ")
	i, err := strconv.Atoi(strings.TrimPrefix(node, "n"))
	if err != nil {
		return fmt.Errorf("hook request %q: %w", request, err)
	}
	ctx := context.Background()
	switch op {
	case "pause":
		return own.Pause(ctx, i-1)
	case "resume":
		return own.Resume(ctx, i-1)
	case "kill":
		return own.Kill(ctx, i-1)
	case "restart":
		_, err := own.Restart(ctx, i-1)
		return err
	}
	return fmt.Errorf("hook request %q: no such operation", request)
}
