package netem

import (
	"errors"
	"io"
	"net"
	"strconv"
	"sync"
	"time"
)

// Front is a stable loopback address in front of a node whose own address may change during a run (a replica
// promoted in its place). The links of every client group point at the front, and moving the node is one
// SetTarget: no proxy gives up its listening port. Giving a port up and taking it again is what Toxiproxy's
// own way of repointing a proxy does, and it fails with "address already in use" whenever one of the old
// connections still lingers in FIN-WAIT on that port.
type Front struct {
	ln net.Listener

	mu     sync.Mutex
	target string
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// NewFront listens on a free loopback port and forwards every connection to target.
func NewFront(target string) (*Front, error) {
	var ln net.Listener
	var err error
	for range 5 {
		var port int
		if port, err = FreePort(); err != nil {
			break
		}
		if ln, err = net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port))); err == nil {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	f := &Front{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	f.wg.Add(1)
	go f.serve()
	return f, nil
}

// Addr is the front's address, which the links forward to.
func (f *Front) Addr() string { return f.ln.Addr().String() }

// Target is where new connections go.
func (f *Front) Target() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.target
}

// SetTarget sends new connections to addr and closes the open ones, whose node is gone: their clients see the
// connection drop and redial, as they would when a failover moves a service address.
func (f *Front) SetTarget(addr string) {
	f.mu.Lock()
	f.target = addr
	old := f.conns
	f.conns = map[net.Conn]struct{}{}
	f.mu.Unlock()
	for c := range old {
		_ = c.Close()
	}
}

// Close stops listening, closes every connection and waits for the forwarding goroutines.
func (f *Front) Close() error {
	f.mu.Lock()
	f.closed = true
	old := f.conns
	f.conns = map[net.Conn]struct{}{}
	f.mu.Unlock()
	err := f.ln.Close()
	for c := range old {
		_ = c.Close()
	}
	f.wg.Wait()
	return err
}

func (f *Front) serve() {
	defer f.wg.Done()
	for {
		c, err := f.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(5 * time.Millisecond)
			continue
		}
		f.wg.Add(1)
		go f.forward(c)
	}
}

// track registers the connections of one forwarded pair, or refuses them when the front is closing.
func (f *Front) track(cs ...net.Conn) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return false
	}
	for _, c := range cs {
		f.conns[c] = struct{}{}
	}
	return true
}

func (f *Front) untrack(cs ...net.Conn) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range cs {
		delete(f.conns, c)
	}
}

func (f *Front) forward(client net.Conn) {
	defer f.wg.Done()
	defer client.Close()
	up, err := net.DialTimeout("tcp", f.Target(), time.Second)
	if err != nil {
		return
	}
	defer up.Close()
	if !f.track(client, up) {
		return
	}
	defer f.untrack(client, up)
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		_ = dst.Close()
		_ = src.Close()
		done <- struct{}{}
	}
	go pipe(up, client)
	go pipe(client, up)
	<-done
	<-done
}
