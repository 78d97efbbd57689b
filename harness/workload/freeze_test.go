package workload

import (
	"net"
	"testing"
	"time"
)

func TestAFrozenClientSendsNothingUntilItThaws(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	f := newFreezer()
	c := &frozenConn{Conn: a, f: f}
	got := make(chan []byte, 1)
	go func() {
		buf := make([]byte, 4)
		n, _ := b.Read(buf)
		got <- buf[:n]
	}()
	f.freeze()
	wrote := make(chan struct{})
	go func() {
		_, _ = c.Write([]byte("PING"))
		close(wrote)
	}()
	select {
	case <-wrote:
		t.Fatal("a frozen client's write went through")
	case <-time.After(100 * time.Millisecond):
	}
	f.thaw()
	select {
	case b := <-got:
		if string(b) != "PING" {
			t.Fatalf("after the thaw the peer read %q", b)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("the write did not go through after the thaw")
	}
}

func TestFreezingTwiceAndThawingTwiceIsHarmless(t *testing.T) {
	f := newFreezer()
	f.freeze()
	f.freeze()
	f.thaw()
	f.thaw()
	done := make(chan struct{})
	go func() { f.wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Second):
		t.Fatal("a thawed client still waits")
	}
}
