package history

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// NodeEvent is one line of a run's node record (nodes.jsonl): what a lock server itself saw happen to the lock
// keys, as opposed to what the clients believed. Times are on the run's clock, like the history's.
type NodeEvent struct {
	T int64 `json:"t"`
	// Node is n1, n2, … (a promoted replica serves its primary's name).
	Node string `json:"node"`
	// Ev is what happened: NodeCmd, NodeExpired, NodeEvicted, or a lifecycle event (NodeUp, NodeDown,
	// NodeRestart, NodeMoved, NodeNote).
	Ev string `json:"ev"`
	// Client is the worker whose connection sent the command (its CLIENT SETNAME), "" when unknown.
	Client string `json:"client,omitempty"`
	// Cmd is the command, upper case; Key the lock key it touched; Args what followed the key (a value, a TTL,
	// NX…), shortened.
	Cmd  string   `json:"cmd,omitempty"`
	Key  string   `json:"key,omitempty"`
	Args []string `json:"args,omitempty"`
	// Script says the command ran inside a Lua script that Client sent (EVALSHA): the script's own GET, DEL or
	// PEXPIRE, which shows what the script decided.
	Script bool `json:"script,omitempty"`
	// Note says what a lifecycle event means, e.g. "restarted: a new process with 0 keys".
	Note string `json:"note,omitempty"`
}

// Node event kinds.
const (
	NodeCmd     = "cmd"
	NodeExpired = "expired"
	NodeEvicted = "evicted"
	NodeUp      = "up"
	NodeDown    = "down"
	NodeRestart = "restart"
	NodeMoved   = "moved"
	NodeNote    = "note"
)

// NodeFile is the name of the node record beside history.jsonl.
const NodeFile = "nodes.jsonl"

// NodeWriter streams node events as JSON lines, flushed as they come, safe for concurrent use. Events recorded
// after Close are dropped.
type NodeWriter struct {
	w *Writer
}

// CreateNodes opens path for the node record.
func CreateNodes(path string, clock Clock) (*NodeWriter, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("node record: %w", err)
	}
	w := &Writer{f: f, bw: bufio.NewWriterSize(f, 64<<10), clock: clock, done: make(chan struct{})}
	w.enc = json.NewEncoder(w.bw)
	go w.flusher()
	return &NodeWriter{w: w}, nil
}

// Clock returns the run's clock.
func (n *NodeWriter) Clock() Clock { return n.w.clock }

// Record writes e, stamping it with the clock's current time when e.T is zero.
func (n *NodeWriter) Record(e NodeEvent) {
	if e.T == 0 {
		e.T = n.w.clock.Now()
	}
	n.w.mu.Lock()
	defer n.w.mu.Unlock()
	if n.w.closed || n.w.err != nil {
		return
	}
	n.w.err = n.w.enc.Encode(e)
	n.w.count++
}

// Close flushes and closes the file.
func (n *NodeWriter) Close() error { return n.w.Close() }

// ReadNodes reads a node record. A last line cut off by a crash is dropped, as the history's is; any other bad
// line is an error naming it.
func ReadNodes(path string) ([]NodeEvent, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return DecodeNodes(f)
}

// DecodeNodes reads node events from r.
func DecodeNodes(r io.Reader) ([]NodeEvent, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	out := []NodeEvent{} // an empty record is a record: not the same as none
	var pending error
	line := 0
	for sc.Scan() {
		line++
		if pending != nil {
			return nil, pending // a bad line that was not the last
		}
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		var e NodeEvent
		if err := json.Unmarshal([]byte(text), &e); err != nil {
			pending = fmt.Errorf("node record line %d: %w", line, err)
			continue
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return out, nil
}
