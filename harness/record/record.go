// Package record keeps what the lock servers themselves saw of a run: every command that touched a lock key, with
// the worker that sent it, every expiry, and each node's lifecycle (down, up, restarted, moved to a promoted
// replica), streamed to nodes.jsonl beside the history. The history says what the clients believed; the record
// says what happened on the servers, and a violation's cause is read from it (checker.Explain).
//
// Mechanism. MONITOR shows every command a node executes, with the address of the connection that sent it, and
// the commands a Lua script runs inside it (the script's own DEL or PEXPIRE, i.e. what it decided), but no
// expiry, since no client sends one. Keyspace notifications (notify-keyspace-events Ex) announce each expiry,
// but not who set what. One connection of each per node, straight to the node (not through the proxies, so that
// no fault hides the record), gives both; every worker names its connections (CLIENT SETNAME, sent by go-redis
// at connect as part of HELLO), and the MONITOR stream carries that name with the connection's address, so each
// command is mapped back to its worker from the stream itself. CLIENT TRACKING would tell only that a key changed.
package record

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redlock-harness/redlock-harness/history"
)

// Recorder watches the nodes of one run.
type Recorder struct {
	w      *history.NodeWriter
	isKey  func(string) bool
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	watches map[string]*watch
}

// Start opens nodes.jsonl at path and watches every node until Close. isKey says which keys are lock keys (or
// their fencing counters); commands on other keys are not recorded.
func Start(path string, clock history.Clock, nodes map[string]string, isKey func(string) bool) (*Recorder, error) {
	w, err := history.CreateNodes(path, clock)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &Recorder{w: w, isKey: isKey, ctx: ctx, cancel: cancel, watches: map[string]*watch{}}
	var ready []chan struct{}
	for name, addr := range nodes {
		ready = append(ready, r.watch(name, addr))
	}
	// Every worker names its connections when it opens them: the record must be listening before they do, or
	// it could not tell whose commands it sees.
	deadline := time.After(AttachTimeout)
	for _, c := range ready {
		select {
		case <-c:
		case <-deadline:
			_ = r.Close()
			return nil, fmt.Errorf("node record: MONITOR not attached to every node within %s", AttachTimeout)
		}
	}
	return r, nil
}

// AttachTimeout bounds how long Start waits for MONITOR on every node.
const AttachTimeout = 10 * time.Second

// Moved says node now lives at addr (a promoted replica): the record follows it.
func (r *Recorder) Moved(node, addr, why string) {
	r.mu.Lock()
	old := r.watches[node]
	r.mu.Unlock()
	if old != nil {
		old.stop()
	}
	r.w.Record(history.NodeEvent{Node: node, Ev: history.NodeMoved, Note: why})
	ready := r.watch(node, addr)
	select { // the promoted replica is already serving: attach as soon as possible, but never hold the fault up long
	case <-ready:
	case <-time.After(time.Second):
	}
}

// Note records a lifecycle fact the node cannot tell by itself (its wall clock moved, it was killed).
func (r *Recorder) Note(node, what string) {
	r.w.Record(history.NodeEvent{Node: node, Ev: history.NodeNote, Note: what})
}

// Close stops watching and closes nodes.jsonl. It may be called more than once.
func (r *Recorder) Close() error {
	r.cancel()
	r.mu.Lock()
	for _, w := range r.watches {
		w.closeConns()
	}
	r.mu.Unlock()
	r.wg.Wait()
	return r.w.Close()
}

func (r *Recorder) watch(node, addr string) chan struct{} {
	ctx, cancel := context.WithCancel(r.ctx)
	w := &watch{r: r, node: node, addr: addr, ctx: ctx, cancel: cancel, names: map[string]string{}, ready: make(chan struct{})}
	r.mu.Lock()
	r.watches[node] = w
	r.mu.Unlock()
	r.wg.Add(2)
	go func() { defer r.wg.Done(); w.monitorLoop() }()
	go func() { defer r.wg.Done(); w.expiryLoop() }()
	return w.ready
}

// watch is the record of one node at one address.
type watch struct {
	r      *Recorder
	node   string
	addr   string
	ctx    context.Context
	cancel context.CancelFunc

	mu    sync.Mutex
	conns []net.Conn
	runID string
	// downAt is when the record lost the node: a new process found behind it on reconnecting was started after.
	downAt int64
	names  map[string]string // connection address → worker name
	// script is the client whose EVAL/EVALSHA the script lines that follow belong to.
	script string
	// ready is closed once MONITOR is first attached.
	ready     chan struct{}
	readyOnce sync.Once
}

func (w *watch) stop() {
	w.cancel()
	w.closeConns()
}

func (w *watch) closeConns() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, c := range w.conns {
		_ = c.Close()
	}
	w.conns = nil
}

func (w *watch) track(c net.Conn) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ctx.Err() != nil {
		_ = c.Close()
		return false
	}
	w.conns = append(w.conns, c)
	return true
}

// monitorLoop keeps a MONITOR connection open, reconnecting after the node went down, and records what it says.
func (w *watch) monitorLoop() {
	up := true
	for w.ctx.Err() == nil {
		err := w.monitorOnce(&up)
		if w.ctx.Err() != nil {
			return
		}
		if up {
			up = false
			w.mu.Lock()
			w.downAt = w.r.w.Clock().Now()
			w.mu.Unlock()
			w.r.w.Record(history.NodeEvent{T: w.downAt, Node: w.node, Ev: history.NodeDown, Note: errText(err)})
		}
		sleep(w.ctx, 10*time.Millisecond)
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// monitorOnce connects, notes a new process behind the node (a restart), and reads MONITOR until the connection
// breaks.
func (w *watch) monitorOnce(up *bool) error {
	d := net.Dialer{Timeout: time.Second}
	c, err := d.DialContext(w.ctx, "tcp", w.addr)
	if err != nil {
		return err
	}
	if !w.track(c) {
		return nil
	}
	defer c.Close()
	rd := bufio.NewReaderSize(c, 64<<10)
	runID, keys, err := w.identify(c, rd)
	if err != nil {
		return err
	}
	w.noteProcess(runID, keys, up)
	if _, err := c.Write([]byte("MONITOR\r\n")); err != nil {
		return err
	}
	if ok, err := rd.ReadString('\n'); err != nil || !strings.HasPrefix(ok, "+OK") {
		return fmt.Errorf("MONITOR: %q %v", ok, err)
	}
	w.readyOnce.Do(func() { close(w.ready) })
	_ = c.SetReadDeadline(time.Time{})
	for {
		line, err := rd.ReadString('\n')
		if err != nil {
			return err
		}
		w.line(strings.TrimRight(line, "\r\n"))
	}
}

// identify asks the node for its process's run id and its number of keys, turns expiry notifications on, and
// consumes the replies.
func (w *watch) identify(c net.Conn, rd *bufio.Reader) (runID string, keys int64, err error) {
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	cmd := "*2\r\n$4\r\nINFO\r\n$6\r\nserver\r\n*1\r\n$6\r\nDBSIZE\r\n" +
		"*4\r\n$6\r\nCONFIG\r\n$3\r\nSET\r\n$22\r\nnotify-keyspace-events\r\n$2\r\nEx\r\n"
	if _, err := c.Write([]byte(cmd)); err != nil {
		return "", 0, err
	}
	info, err := readBulk(rd)
	if err != nil {
		return "", 0, err
	}
	for _, l := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "run_id:"); ok {
			runID = v
		}
	}
	if keys, err = readInt(rd); err != nil {
		return "", 0, err
	}
	if _, err := rd.ReadString('\n'); err != nil { // +OK
		return "", 0, err
	}
	return runID, keys, nil
}

// noteProcess records the node coming (back) up, and a restart when the process behind it is a new one.
func (w *watch) noteProcess(runID string, keys int64, up *bool) {
	w.mu.Lock()
	prev := w.runID
	w.runID = runID
	w.names = map[string]string{} // a new connection: the old addresses mean nothing now
	w.mu.Unlock()
	switch {
	case prev != "" && prev != runID:
		// Dated when the old process was lost: commands may reach the new one before the record reattaches.
		w.mu.Lock()
		at := w.downAt
		w.mu.Unlock()
		w.r.w.Record(history.NodeEvent{T: at, Node: w.node, Ev: history.NodeRestart,
			Note: fmt.Sprintf("restarted: a new process holding %d keys", keys)})
	case !*up:
		w.r.w.Record(history.NodeEvent{Node: w.node, Ev: history.NodeUp, Note: fmt.Sprintf("the same process, %d keys", keys)})
	case prev == "":
		w.r.w.Record(history.NodeEvent{Node: w.node, Ev: history.NodeUp, Note: fmt.Sprintf("watched at %s, %d keys", w.addr, keys)})
	}
	*up = true
}

// line records one MONITOR line when it touches a lock key, and learns worker names from CLIENT SETNAME and
// HELLO … SETNAME.
func (w *watch) line(l string) {
	if !strings.HasPrefix(l, "+") {
		return
	}
	addr, args, ok := parseMonitor(l[1:])
	if !ok || len(args) == 0 {
		return
	}
	cmd := strings.ToUpper(args[0])
	w.mu.Lock()
	defer w.mu.Unlock()
	if name, ok := setName(cmd, args); ok {
		w.names[addr] = name
		return
	}
	script := addr == "lua"
	client := w.names[addr]
	if script {
		client = w.script
	}
	key, rest := keyOf(cmd, args)
	if cmd == "EVAL" || cmd == "EVALSHA" {
		w.script = client
	}
	if key == "" || !w.r.isKey(key) {
		return
	}
	if len(rest) > 4 {
		rest = rest[:4]
	}
	w.r.w.Record(history.NodeEvent{Node: w.node, Ev: history.NodeCmd, Client: client, Cmd: cmd, Key: key, Args: rest, Script: script})
}

// expiryLoop subscribes to the node's expiry (and eviction) notifications, resubscribing after the node went down.
func (w *watch) expiryLoop() {
	for w.ctx.Err() == nil {
		c := redis.NewClient(&redis.Options{Addr: w.addr, MaxRetries: -1, DialTimeout: time.Second, Protocol: 2,
			DisableIdentity: true})
		ps := c.PSubscribe(w.ctx, "__keyevent@*__:expired", "__keyevent@*__:evicted")
		stop := context.AfterFunc(w.ctx, func() { _ = ps.Close() }) // a blocked receive does not watch the context
		for w.ctx.Err() == nil {
			m, err := ps.ReceiveMessage(w.ctx)
			if err != nil {
				break
			}
			if !w.r.isKey(m.Payload) {
				continue
			}
			ev := history.NodeExpired
			if strings.HasSuffix(m.Channel, ":evicted") {
				ev = history.NodeEvicted
			}
			w.r.w.Record(history.NodeEvent{Node: w.node, Ev: ev, Key: m.Payload})
		}
		stop()
		_ = ps.Close()
		_ = c.Close()
		sleep(w.ctx, 50*time.Millisecond)
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
