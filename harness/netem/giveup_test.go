package netem_test

import (
	"net"
	"testing"
	"time"

	"github.com/redlock-harness/redlock-harness/harness/netem"
)

// eofServer accepts connections and reports, for each, when its reads ended (the client's FIN, or a close).
func eofServer(t *testing.T) (addr string, ended <-chan time.Time) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	c := make(chan time.Time, 16)
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				buf := make([]byte, 64)
				for {
					if _, err := conn.Read(buf); err != nil {
						c <- time.Now()
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String(), c
}

func link(t *testing.T, upstream string) *netem.Link {
	t.Helper()
	n, err := netem.New("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	l, err := n.AddLink("g1", "n1", upstream)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte("hello")); err != nil { // the proxy has dialled the server once a byte got through
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	return c
}

func TestAClientsCloseIsLostInADroppingCutLikeAnySegmentAndArrivesAtTheHeal(t *testing.T) {
	addr, ended := eofServer(t)
	l := link(t, addr)
	c := dial(t, l.Addr())
	heal := l.Apply(netem.Effect{Cut: netem.Drop})
	c.Close()
	select {
	case <-ended:
		t.Fatal("the server saw the client's close across a blackhole")
	case <-time.After(500 * time.Millisecond):
	}
	healed := time.Now()
	heal()
	select {
	case at := <-ended:
		if at.Before(healed) {
			t.Fatalf("the close arrived before the heal")
		}
	case <-time.After(2 * time.Second):
		t.Fatal("the close never arrived after the heal")
	}
}

func TestACutWhoseServerGivesUpClosesTheServersSideAfterThatLongAndNotBefore(t *testing.T) {
	addr, ended := eofServer(t)
	l := link(t, addr)
	c := dial(t, l.Addr())
	defer c.Close()
	start := time.Now()
	heal := l.Apply(netem.Effect{Cut: netem.Drop, GiveUp: 600 * time.Millisecond})
	defer heal()
	select {
	case at := <-ended:
		if d := at.Sub(start); d < 550*time.Millisecond || d > 1500*time.Millisecond {
			t.Fatalf("the server's side closed %s into the cut, want about 600ms", d)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("the server's side never closed")
	}
	// A connection made while the cut lasts, past its give-up, is closed at once.
	c2, err := net.Dial("tcp", l.Addr())
	if err == nil {
		defer c2.Close()
		_ = c2.SetReadDeadline(time.Now().Add(2 * time.Second))
		if _, err := c2.Read(make([]byte, 1)); err == nil {
			t.Fatal("a connection made after the give-up carried a byte")
		}
	}
}

func TestACutWithoutGiveUpKeepsTheServersSideOpen(t *testing.T) {
	addr, ended := eofServer(t)
	l := link(t, addr)
	c := dial(t, l.Addr())
	defer c.Close()
	heal := l.Apply(netem.Effect{Cut: netem.Drop})
	defer heal()
	select {
	case <-ended:
		t.Fatal("the server's side closed during a cut with no give-up")
	case <-time.After(time.Second):
	}
}
