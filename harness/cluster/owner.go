package cluster

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// A harness killed outright (SIGKILL, an OOM kill, a crashed CI runner) cannot clean up. Its local nodes die
// with it (they get SIGKILL from the kernel when it dies: Pdeathsig), but their directories stay, and its
// containers keep running. Everything the backends create therefore carries its owner: the harness process's
// pid and start time (a pid alone may be reused). The next backend to start removes what belongs to an owner
// that is gone, as testcontainers' reaper would.

// ownerFile is the name of the file holding the owner in every node directory and clock directory.
const ownerFile = "owner"

var (
	selfOnce sync.Once
	selfTag  string
)

// OwnerTag identifies this process: "pid:starttime".
func OwnerTag() string {
	selfOnce.Do(func() { selfTag = ownerOf(os.Getpid()) })
	return selfTag
}

// ownerOf returns pid's tag, or "" when no such process runs.
func ownerOf(pid int) string {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return ""
	}
	// The command name, in parentheses, may hold spaces: fields count from the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return ""
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return ""
	}
	return strconv.Itoa(pid) + ":" + f[19] // field 22, the start time
}

// ownerGone reports whether the process a tag names has exited. A malformed tag is not judged gone: what it
// marks is left alone.
func ownerGone(tag string) bool {
	pid, _, ok := strings.Cut(tag, ":")
	n, err := strconv.Atoi(pid)
	if !ok || err != nil || n <= 0 {
		return false
	}
	return ownerOf(n) != tag
}

// markOwned writes this process's tag into dir.
func markOwned(dir string) error {
	return os.WriteFile(filepath.Join(dir, ownerFile), []byte(OwnerTag()), 0o644)
}

// SweepStaleLocal removes what killed harnesses left in the temporary directory: node directories and clock
// directories whose owner is gone, after killing any redis-server still serving one of them (Pdeathsig makes
// that rare). It returns what it removed, for a message.
func SweepStaleLocal() []string {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "redlock-harness-*"))
	var stale []string
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, ownerFile))
		if err != nil || !ownerGone(strings.TrimSpace(string(b))) {
			continue
		}
		stale = append(stale, d)
	}
	if len(stale) == 0 {
		return nil
	}
	for _, pid := range serversIn(stale) {
		_ = syscall.Kill(pid, syscall.SIGCONT)
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	for _, d := range stale {
		_ = os.RemoveAll(d)
	}
	return stale
}

// serversIn finds the redis-server processes serving one of dirs.
func serversIn(dirs []string) []int { return ProcessesIn("redis-server", dirs...) }

// ProcessesIn returns the processes named name (their kernel name, /proc/<pid>/comm) whose working directory is
// one of dirs or under one. A redis-server moves into its --dir and rewrites its command line into a process
// title ("redis-server 127.0.0.1:6379"), over its arguments and its environment: only its working directory
// still says which directory it serves.
func ProcessesIn(name string, dirs ...string) []int {
	real := make([]string, len(dirs))
	for i, d := range dirs {
		real[i] = d
		if r, err := filepath.EvalSymlinks(d); err == nil {
			real[i] = r // the kernel gives the working directory with its links resolved
		}
	}
	procs, _ := os.ReadDir("/proc")
	var out []int
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		comm, err := os.ReadFile(filepath.Join("/proc", p.Name(), "comm"))
		if err != nil || strings.TrimSpace(string(comm)) != name {
			continue
		}
		cwd, err := os.Readlink(filepath.Join("/proc", p.Name(), "cwd"))
		if err != nil {
			continue
		}
		for _, d := range real {
			if cwd == d || strings.HasPrefix(cwd, d+string(filepath.Separator)) {
				out = append(out, pid)
				break
			}
		}
	}
	return out
}

// dockerLabelOwner carries OwnerTag on every container the docker backend creates.
const dockerLabelOwner = "org.redlock-harness.owner"

// sweepStaleContainers removes every container of the harness whose owner is gone.
func (d *Docker) sweepStaleContainers(ctx context.Context) []string {
	d.mu.Lock()
	p := d.provider
	d.mu.Unlock()
	if p == nil {
		return nil
	}
	cctx, cancel := d.call(ctx, 1)
	defer cancel()
	owners, err := listOwners(cctx, p.Client())
	if err != nil {
		return nil
	}
	var removed []string
	for id, owner := range owners {
		if owner == "" || !ownerGone(owner) {
			continue
		}
		if err := forceRemove(cctx, p.Client(), id); err == nil {
			removed = append(removed, fmt.Sprintf("%.12s", id))
		}
	}
	return removed
}
