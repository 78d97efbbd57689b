// Package testslot makes the test binaries of the packages that start servers or run whole scenarios take the
// machine one at a time.
//
// `go test ./...` runs as many packages' test binaries at once as the machine has CPUs. Two of this project's heavy
// packages side by side (five redis-servers and a run under the race detector in one, an etcd cluster or a
// browser in the other) starve each other on a 2-CPU machine: goroutines wait for a CPU longer than a node's
// timeout, runs are flagged overloaded and their verdicts distrusted, a lock's window closes before its fault
// strikes. The harness reports that honestly, as unknown; a test that expects a verdict then fails for a reason
// that is the machine's, not the code's. Taking one machine-wide slot per heavy package keeps those tests apart
// while `go test` still builds the next packages and runs the light ones beside them.
package testslot

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// lockName is the slot's file in the temporary directory every test binary of one `go test` shares.
const lockName = "redlock-harness-test-slot.lock"

// heldEnv is set in the environment of a binary that holds the slot, and so in every process its tests start: a
// test that runs its own binary again in a child (a docker start in a process that can be killed) must not wait
// for the slot its parent holds.
const heldEnv = "REDLOCK_HARNESS_TEST_SLOT_HELD"

// Main is a heavy package's TestMain: it waits for the slot, runs the package's tests, and exits with their code;
// the slot is freed when the process ends, however it ends. In -short mode (unit tests and quick checks only) it
// takes no slot. before, when not nil, runs first, outside the slot (a build the tests need), and returns the
// function that undoes it after the tests.
func Main(m *testing.M, before func() (after func())) {
	if !flag.Parsed() {
		flag.Parse()
	}
	after := func() {}
	if before != nil {
		after = before()
	}
	if !testing.Short() && os.Getenv(heldEnv) == "" {
		if err := take(filepath.Join(os.TempDir(), lockName)); err != nil {
			fmt.Fprintln(os.Stderr, "testslot: running without the machine's slot:", err)
		}
	}
	code := m.Run()
	after()
	os.Exit(code)
}

// maxWait bounds the wait for the slot: a holder that hangs is ended by its own test timeout, but should it not be,
// the waiting binary runs its tests without the slot rather than wait for ever.
var maxWait = 20 * time.Minute

// take waits, up to maxWait, until this process holds the exclusive lock on path. The lock is the kernel's (flock), tied to the
// open file: a binary that crashes or is killed frees it, so no stale slot can block the next run.
func take(path string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		return err
	}
	start := time.Now()
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err != syscall.EWOULDBLOCK && err != syscall.EINTR {
			break
		}
		if time.Since(start) > maxWait {
			err = fmt.Errorf("another test binary held it for %s", maxWait)
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		f.Close()
		return err
	}
	if waited := time.Since(start); waited > time.Second && testing.Verbose() {
		fmt.Fprintf(os.Stderr, "testslot: waited %s for the machine\n", waited.Round(time.Second))
	}
	held = f // kept open, and so locked, until the process exits
	return os.Setenv(heldEnv, strconv.Itoa(os.Getpid()))
}

// held is the open lock file; nothing reads it, it is kept only so the lock lives as long as the process.
var held *os.File
