package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// InstallCommand is what a user runs to get the redis-server binary the local backend needs.
const InstallCommand = "sudo apt-get install -y redis-server"

// ErrNoRedisServer means redis-server is not installed and could not be installed.
var ErrNoRedisServer = errors.New("redis-server not found")

// Local runs each node as a redis-server process on a free loopback port, in its own temporary directory, with
// no persistence unless asked. Processes get SIGKILL if the harness itself dies (Pdeathsig), so a crash of the
// harness leaves no server behind.
type Local struct {
	// Binary is the redis-server to run; empty means look it up on PATH (and install it when root).
	Binary string
	// ExtraArgs are appended to every node's command line (e.g. "--appendonly", "yes").
	ExtraArgs []string
	// LogDir, when set, keeps each node's log there instead of in the temporary directory.
	LogDir string

	mu    sync.Mutex
	nodes []*localNode
}

type localNode struct {
	name string
	port int
	dir  string
	cmd  *exec.Cmd
	done chan struct{}
}

// Name implements Backend.
func (l *Local) Name() string { return "local" }

// FindRedisServer locates redis-server. When it is missing and the process runs as root, it installs Debian's
// package; otherwise it returns an error carrying the install command.
func FindRedisServer() (string, error) {
	if p, err := exec.LookPath("redis-server"); err == nil {
		return p, nil
	}
	if os.Geteuid() != 0 {
		return "", fmt.Errorf("%w on PATH: install it with `%s`", ErrNoRedisServer, InstallCommand)
	}
	fmt.Fprintln(os.Stderr, "redis-server not found: installing Debian's redis-server package")
	if out, err := exec.Command("apt-get", "install", "-y", "redis-server").CombinedOutput(); err != nil {
		if out2, err2 := exec.Command("apt-get", "update").CombinedOutput(); err2 != nil {
			return "", fmt.Errorf("%w: apt-get update failed: %v\n%s", ErrNoRedisServer, err2, out2)
		}
		if out, err = exec.Command("apt-get", "install", "-y", "redis-server").CombinedOutput(); err != nil {
			return "", fmt.Errorf("%w: `apt-get install -y redis-server` failed: %v\n%s", ErrNoRedisServer, err, out)
		}
		_ = out
	}
	p, err := exec.LookPath("redis-server")
	if err != nil {
		return "", fmt.Errorf("%w after installing it: install it with `%s`", ErrNoRedisServer, InstallCommand)
	}
	return p, nil
}

// Start implements Backend.
func (l *Local) Start(ctx context.Context, spec Spec) ([]Node, error) {
	n := spec.Nodes
	if spec.Persistence == "aof-always" {
		l.ExtraArgs = append(l.ExtraArgs, "--appendonly", "yes", "--appendfsync", "always")
	}
	if l.Binary == "" {
		p, err := FindRedisServer()
		if err != nil {
			return nil, err
		}
		l.Binary = p
	}
	out := make([]Node, 0, n)
	for i := 0; i < n; i++ {
		dir, err := os.MkdirTemp("", "redlock-harness-"+NodeName(i)+"-")
		if err != nil {
			l.Stop(context.Background())
			return nil, err
		}
		node := &localNode{name: NodeName(i), dir: dir}
		l.mu.Lock()
		l.nodes = append(l.nodes, node)
		l.mu.Unlock()
		var lastErr error
		for attempt := 0; attempt < 5; attempt++ {
			port, err := FreePort()
			if err != nil {
				lastErr = err
				continue
			}
			node.port = port
			if lastErr = l.startNode(ctx, node); lastErr == nil {
				break
			}
		}
		if lastErr != nil {
			l.Stop(context.Background())
			return nil, fmt.Errorf("start %s: %w", node.name, lastErr)
		}
		out = append(out, Node{Name: node.name, Addr: node.addr()})
	}
	return out, nil
}

func (n *localNode) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(n.port)) }

func (l *Local) startNode(ctx context.Context, n *localNode) error {
	logFile := filepath.Join(n.dir, "redis.log")
	if l.LogDir != "" {
		logFile = filepath.Join(l.LogDir, n.name+".log")
	}
	args := []string{
		"--port", strconv.Itoa(n.port), "--bind", "127.0.0.1", "--protected-mode", "no",
		"--save", "", "--appendonly", "no", "--dir", n.dir, "--logfile", logFile, "--daemonize", "no",
	}
	args = append(args, l.ExtraArgs...)
	cmd := exec.Command(l.Binary, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	l.mu.Lock()
	n.cmd, n.done = cmd, done
	l.mu.Unlock()
	if err := waitReady(ctx, n.addr(), done); err != nil {
		killWait(cmd, done)
		logTail, _ := os.ReadFile(logFile)
		if len(logTail) > 600 {
			logTail = logTail[len(logTail)-600:]
		}
		return fmt.Errorf("%v (port %d): %s%s", err, n.port, stderr.String(), logTail)
	}
	return nil
}

func waitReady(ctx context.Context, addr string, exited <-chan struct{}) error {
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		pctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		err := c.Ping(pctx).Err()
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-exited:
			return errors.New("redis-server exited at start")
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("redis-server did not answer PING within 10s: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func killWait(cmd *exec.Cmd, done <-chan struct{}) {
	if cmd == nil || cmd.Process == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGCONT) // a paused process must be able to die
	_ = cmd.Process.Kill()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
	}
}

func (l *Local) node(i int) (*localNode, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if i < 0 || i >= len(l.nodes) {
		return nil, fmt.Errorf("no node %d", i)
	}
	return l.nodes[i], nil
}

// Pause implements Pauser with SIGSTOP.
func (l *Local) Pause(_ context.Context, i int) error {
	n, err := l.node(i)
	if err != nil {
		return err
	}
	return n.cmd.Process.Signal(syscall.SIGSTOP)
}

// Resume implements Pauser with SIGCONT.
func (l *Local) Resume(_ context.Context, i int) error {
	n, err := l.node(i)
	if err != nil {
		return err
	}
	return n.cmd.Process.Signal(syscall.SIGCONT)
}

// Kill implements Restarter with SIGKILL: no shutdown, no final save.
func (l *Local) Kill(_ context.Context, i int) error {
	n, err := l.node(i)
	if err != nil {
		return err
	}
	killWait(n.cmd, n.done)
	return nil
}

// Restart implements Restarter: the node comes back on the same port and directory, with whatever its
// persistence settings kept.
func (l *Local) Restart(ctx context.Context, i int) (string, error) {
	n, err := l.node(i)
	if err != nil {
		return "", err
	}
	select {
	case <-n.done:
	default:
		return "", fmt.Errorf("%s is still running", n.name)
	}
	var last error
	for attempt := 0; attempt < 20; attempt++ {
		if last = l.startNode(ctx, n); last == nil {
			return n.addr(), nil
		}
		time.Sleep(100 * time.Millisecond) // the port may linger for a moment after the kill
	}
	return "", last
}

// PIDs returns the process ids of the running nodes, for tests that check nothing is left behind.
func (l *Local) PIDs() []int {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []int
	for _, n := range l.nodes {
		if n.cmd != nil && n.cmd.Process != nil {
			select {
			case <-n.done:
			default:
				out = append(out, n.cmd.Process.Pid)
			}
		}
	}
	return out
}

// Stop implements Backend: every node is killed and its directory removed.
func (l *Local) Stop(_ context.Context) error {
	l.mu.Lock()
	nodes := l.nodes
	l.nodes = nil
	l.mu.Unlock()
	for _, n := range nodes {
		killWait(n.cmd, n.done)
		if n.dir != "" {
			_ = os.RemoveAll(n.dir)
		}
	}
	return nil
}

// FreePort asks the kernel for a free loopback TCP port.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
