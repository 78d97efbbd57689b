package redis

import (
	"bufio"
	"context"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/redlock-harness/redlock-harness/harness/system"
	"github.com/redlock-harness/redlock-harness/harness/workload"
	"github.com/redlock-harness/redlock-harness/history"
	"github.com/redlock-harness/redlock-harness/lock"
)

// pongServer answers PING with +PONG, CLIENT (SETNAME) with +OK and anything else with an error, and counts the connections it accepted.
func pongServer(t *testing.T) (addr string, accepted *atomic.Int64) {
	t.Helper()
	return pongServerAfter(t, 0)
}

// pongServerAfter is pongServer answering each command after delay.
func pongServerAfter(t *testing.T, delay time.Duration) (addr string, accepted *atomic.Int64) {
	t.Helper()
	addr, accepted, _ = countingServer(t, delay)
	return addr, accepted
}

// countingServer is pongServerAfter that also counts the PINGs it received.
func countingServer(t *testing.T, delay time.Duration) (addr string, accepted, pings *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	accepted, pings = new(atomic.Int64), new(atomic.Int64)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					n, _ := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "*")))
					var args []string
					for i := 0; i < 2*n; i++ { // each argument: a $length line and the bytes
						a, err := r.ReadString('\n')
						if err != nil {
							return
						}
						args = append(args, strings.TrimSpace(a))
					}
					reply := "-ERR unknown command\r\n" // HELLO and the like: the client falls back to RESP2
					if len(args) == 2 && strings.EqualFold(args[1], "PING") {
						pings.Add(1)
						reply = "+PONG\r\n"
					}
					if len(args) >= 2 && strings.EqualFold(args[1], "CLIENT") { // CLIENT SETNAME: the worker's name
						reply = "+OK\r\n"
					}
					time.Sleep(delay)
					if _, err := c.Write([]byte(reply)); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String(), accepted, pings
}

func newTestWorkload(t *testing.T, addrs []string) *workload.Workload {
	t.Helper()
	hw, err := history.Create(filepath.Join(t.TempDir(), "history.jsonl"), history.NewClock(), history.Header{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hw.Close() })
	st, err := lock.Lookup("lua")
	if err != nil {
		t.Fatal(err)
	}
	w, err := workload.New(workload.Config{Groups: 2, Workers: 3, Keys: 1, Strategy: st.Make(), System: System{},
		Lock: lock.Options{TTL: time.Second}}, func(int) []string { return addrs }, hw)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Stop(time.Second) })
	return w
}

func TestConnectedClientsKeepTheirPingedConnectionOpenForTheFirstAcquire(t *testing.T) {
	a1, n1 := pongServer(t)
	a2, n2 := pongServer(t)
	cs, err := System{}.Connect(system.ConnectConfig{Addrs: []string{a1, a2}, Name: "g1w1", TTL: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	if err := cs.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n1.Load() != 1 || n2.Load() != 1 {
		t.Fatalf("the nodes accepted %d and %d connections, want one each", n1.Load(), n2.Load())
	}
	for i, c := range cs.(Clients) {
		if idle := c.(*goredis.Client).PoolStats().IdleConns; idle != 1 {
			t.Fatalf("%d idle connections to node %d after the ping, want 1 kept for the first acquire", idle, i+1)
		}
	}
}

func TestWarmLeavesEveryWorkerAnOpenConnectionToEveryNode(t *testing.T) {
	a1, n1 := pongServer(t)
	a2, n2 := pongServer(t)
	w := newTestWorkload(t, []string{a1, a2})
	if err := w.Warm(context.Background(), 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if n1.Load() != 6 || n2.Load() != 6 {
		t.Fatalf("the nodes accepted %d and %d connections, want one from each of the 6 workers", n1.Load(), n2.Load())
	}
}

func TestWarmFailsNamingTheWorkerAndNodeItCouldNotReach(t *testing.T) {
	a1, _ := pongServer(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close() // nothing listens there now: connections are refused
	w := newTestWorkload(t, []string{a1, dead})
	err = w.Warm(context.Background(), 5*time.Second)
	if err == nil || !strings.Contains(err.Error(), "could not reach the nodes before the run: node n2") {
		t.Fatalf("Warm with node 2 down: %v", err)
	}
}
