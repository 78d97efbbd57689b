package workload

import (
	"context"
	"net"
	"sync"
	"time"
)

// freezer stands for a client process's CPU: while it is frozen (a GC pause, a VM freeze), nothing the client
// runs gets through to the network. The worker's connections pass every read and write through it, so a stall
// freezes not only the worker's own goroutine but everything that talks to Redis on its behalf: a watchdog
// renewing in the background stalls with it, as it would in a real paused process.
type freezer struct {
	mu     sync.Mutex
	thawed chan struct{} // closed while the client runs; a fresh open channel while it is frozen
}

func newFreezer() *freezer {
	c := make(chan struct{})
	close(c)
	return &freezer{thawed: c}
}

// freeze stops the client's I/O until thaw.
func (f *freezer) freeze() {
	f.mu.Lock()
	defer f.mu.Unlock()
	select {
	case <-f.thawed:
		f.thawed = make(chan struct{})
	default: // already frozen
	}
}

// thaw lets the client's I/O go on.
func (f *freezer) thaw() {
	f.mu.Lock()
	defer f.mu.Unlock()
	select {
	case <-f.thawed:
	default:
		close(f.thawed)
	}
}

// wait blocks while the client is frozen.
func (f *freezer) wait() {
	f.mu.Lock()
	c := f.thawed
	f.mu.Unlock()
	<-c
}

// dialer returns a dialer whose connections wait out every freeze before each read and write: the worker's
// clients, whatever their system, dial through it (system.ConnectConfig.Dial).
func (f *freezer) dialer(timeout time.Duration) func(ctx context.Context, network, addr string) (net.Conn, error) {
	d := &net.Dialer{Timeout: timeout, KeepAlive: 5 * time.Minute}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		f.wait()
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &frozenConn{Conn: c, f: f}, nil
	}
}

// frozenConn is a connection of a client that may be frozen. A read already waiting in the kernel when the freeze
// begins still returns its data: the freeze holds back what the client does next, as a paused process would
// leave what the kernel already received in the socket until it runs again.
type frozenConn struct {
	net.Conn
	f *freezer
}

func (c *frozenConn) Read(b []byte) (int, error) {
	c.f.wait()
	return c.Conn.Read(b)
}

func (c *frozenConn) Write(b []byte) (int, error) {
	c.f.wait()
	return c.Conn.Write(b)
}
