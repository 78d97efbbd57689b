package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"
)

// Proc is one node's server process as a local backend runs it (a redis-server, an etcd member, a PostgreSQL
// postmaster): started in a process group of its own and killed by the kernel if the harness dies (Pdeathsig),
// paused and resumed by signal, killed and waited for. Every local backend's node faults are these few lines, so
// they behave the same whatever the system.
type Proc struct {
	// Cmd is the started command.
	Cmd  *exec.Cmd
	done chan struct{}
	// kin, when set, lists the processes that must share the server's fate besides it: PostgreSQL's backends,
	// which leave its process group (setsid), are paused, resumed and killed with their postmaster.
	kin func(pid int) []int
}

// StartProc starts cmd in a process group of its own, killed with the harness. kin, when not nil, names the
// processes paused, resumed and killed with it.
func StartProc(cmd *exec.Cmd, kin func(pid int) []int) (*Proc, error) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig, cmd.SysProcAttr.Setpgid = syscall.SIGKILL, true
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &Proc{Cmd: cmd, done: make(chan struct{}), kin: kin}
	go func() { _ = cmd.Wait(); close(p.done) }()
	return p, nil
}

// Done is closed once the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Exited reports whether the process has exited.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// PID is the process id.
func (p *Proc) PID() int { return p.Cmd.Process.Pid }

// kinOf lists the server's kin now (none without a kin function).
func (p *Proc) kinOf() []int {
	if p.kin == nil {
		return nil
	}
	return p.kin(p.PID())
}

func signalAll(pids []int, sig syscall.Signal) {
	for _, pid := range pids {
		_ = syscall.Kill(pid, sig)
	}
}

// Pause freezes the process with SIGSTOP, then its kin (the server first, so that it starts nothing more); the
// connections stay open and what they send waits in the sockets. A process that is down, or dies as it is
// paused, is ErrNodeDown, naming the node.
func (p *Proc) Pause(node string) error {
	if p.Exited() {
		return fmt.Errorf("pause %s: %w", node, ErrNodeDown)
	}
	err := p.Cmd.Process.Signal(syscall.SIGSTOP)
	if p.Exited() || errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("pause %s: %w", node, ErrNodeDown)
	}
	if err != nil {
		return err
	}
	kin := p.kinOf()
	signalAll(kin, syscall.SIGSTOP)
	// kill(2) returns once the signal is queued, not once every thread has stopped: a thread busy on another CPU
	// may still answer a request that arrives right after. Pause returns only when the freeze is in effect, so
	// that what the history records after it really met a frozen server. A freeze that never takes is undone:
	// the caller heals only what it paused, so a node left half-frozen would stay so.
	if err := awaitStopped(node, append([]int{p.PID()}, kin...), stopWithin); err != nil {
		_ = p.Resume()
		return err
	}
	return nil
}

// stopWithin bounds the wait for a SIGSTOP to take effect: a thread stops on its way back to user space, so only
// one stuck in the kernel (a slow disk write) can take long.
const stopWithin = 5 * time.Second

// awaitStopped polls until every thread of every pid is stopped or gone, and fails, naming the node, when one
// still runs after within.
func awaitStopped(node string, pids []int, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		busy := -1
		for _, pid := range pids {
			if !stopped(pid) {
				busy = pid
				break
			}
		}
		if busy < 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("pause %s: process %d still runs %s after SIGSTOP", node, busy, within)
		}
		time.Sleep(time.Millisecond)
	}
}

// stopped reports whether every thread of pid is stopped (state T or t), or the process is gone or a zombie:
// either way it answers nothing.
func stopped(pid int) bool {
	dir := "/proc/" + strconv.Itoa(pid) + "/task"
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return true
	}
	for _, t := range tasks {
		switch stateOf(dir + "/" + t.Name() + "/stat") {
		case 'T', 't', 'Z', 'X', 0: // 0: the thread has exited
		default:
			return false
		}
	}
	return true
}

// Resume thaws the kin, then the process, with SIGCONT. A process that has exited since its pause has nothing to
// resume; a restarted one was never paused, and SIGCONT leaves it as it is.
func (p *Proc) Resume() error {
	if p.Exited() {
		return nil
	}
	signalAll(p.kinOf(), syscall.SIGCONT)
	if err := p.Cmd.Process.Signal(syscall.SIGCONT); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	return nil
}

// Kill kills the process and its kin with SIGKILL (no shutdown, no final save), a paused one included, and waits
// (five seconds at most) for all of them to exit: the server is stopped first so that it starts nothing while
// its kin are listed.
func (p *Proc) Kill() {
	if p == nil || p.Cmd.Process == nil || p.Exited() {
		return
	}
	_ = p.Cmd.Process.Signal(syscall.SIGSTOP)
	kin := p.kinOf()
	signalAll(kin, syscall.SIGKILL)
	_ = p.Cmd.Process.Kill()
	deadline := time.Now().Add(5 * time.Second)
	select {
	case <-p.done:
	case <-time.After(time.Until(deadline)):
	}
	for _, pid := range kin {
		for running(pid) && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// running reports whether pid is a live process: it exists and is not a zombie waiting to be reaped.
func running(pid int) bool {
	st := stateOf("/proc/" + strconv.Itoa(pid) + "/stat")
	return st != 0 && st != 'Z'
}

// stateOf reads the state letter (R, S, D, T, Z…) from a /proc stat file, or 0 when it cannot be read.
func stateOf(statPath string) byte {
	b, err := os.ReadFile(statPath)
	if err != nil {
		return 0
	}
	i := bytes.LastIndexByte(b, ')') // the command name may hold spaces and parentheses
	if i < 0 || i+2 >= len(b) {
		return 0
	}
	return b[i+2]
}

// ErrExited is Await's error when the process it waited for exited before it was ready.
var ErrExited = errors.New("exited at start")

// Await polls ready every 20 ms until it succeeds, and fails when exited is closed (the process died), when ctx
// ends, or once within has passed, with ready's last error: how every local backend waits for a server it
// started. A nil exited is never closed. what names the server in the errors ("redis-server", "postgres").
func Await(ctx context.Context, exited <-chan struct{}, within time.Duration, what string, ready func() error) error {
	deadline := time.Now().Add(within)
	for {
		err := ready()
		if err == nil {
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("%s %w", what, ErrExited)
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s was not ready within %s: %w", what, within, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
