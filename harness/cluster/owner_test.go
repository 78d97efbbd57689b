package cluster

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// strayServer starts a redis-server serving dir, as the local backend does (its node directory as --dir), not as
// a child the sweep could know of: only what the system shows of it can find it. It is up once it has moved into
// dir. The channel is closed when it has exited.
func strayServer(t *testing.T, dir string) (int, <-chan struct{}) {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server is not installed; make deps installs it")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0") // a free port: a redis-server that listens nowhere exits
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(l.Addr().String())
	l.Close()
	cmd := exec.Command(bin, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-done })
	real, _ := filepath.EvalSymlinks(dir)
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if cwd, _ := os.Readlink(fmt.Sprintf("/proc/%d/cwd", cmd.Process.Pid)); cwd == real {
			return cmd.Process.Pid, done
		}
		if time.Now().After(deadline) {
			t.Fatal("redis-server did not start")
		}
	}
}

func TestProcessesInFindsARedisServerByItsDirectoryThoughItRewroteItsCommandLine(t *testing.T) {
	dir, other := t.TempDir(), t.TempDir()
	pid, _ := strayServer(t, dir)
	if got := ProcessesIn("redis-server", dir); !slices.Contains(got, pid) {
		t.Fatalf("ProcessesIn(%s) = %v, want it to hold %d", dir, got, pid)
	}
	if got := ProcessesIn("redis-server", filepath.Dir(dir)); !slices.Contains(got, pid) {
		t.Fatalf("a server in a directory under the one asked for was not found: %v", got)
	}
	if got := ProcessesIn("redis-server", other); slices.Contains(got, pid) {
		t.Fatalf("a server of another directory was found: %v", got)
	}
}

func TestTheSweepKillsAServerStillServingADirectoryWhoseOwnerIsGone(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	dir := filepath.Join(tmp, "redlock-harness-n1-stale")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// pid 1 with a start time it never had: an owner that is gone.
	if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte("1:999999999"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, exited := strayServer(t, dir)
	if gone := SweepStaleLocal(); !slices.Contains(gone, dir) {
		t.Fatalf("the sweep removed %v, want %s", gone, dir)
	}
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		t.Fatal("the stale directory's redis-server still runs after the sweep")
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("the stale directory is still there: %v", err)
	}
}
