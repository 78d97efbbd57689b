package cluster

import (
	"fmt"
	"syscall"
	"testing"
)

func TestTheLocalBackendConforms(t *testing.T) {
	conformance(t, backendCase{new: func(*testing.T) Backend { return &Local{} }, track: trackLocal})
}

// trackLocal sees the local backend's processes and node directories: the directories carry the owner tag, and
// what is left is any of the processes still alive, any of the directories still there, and any redis-server
// child of this process (one the backend lost track of).
func trackLocal(_ *testing.T, b Backend, _ []Node) ([]string, func() []string) {
	l := b.(*Local)
	var pids []int
	var dirs []string
	l.mu.Lock()
	for _, n := range l.all() {
		if n.proc != nil {
			pids = append(pids, n.proc.PID())
		}
		if n.dir != "" {
			dirs = append(dirs, n.dir)
		}
	}
	l.mu.Unlock()
	var owners []string
	for _, d := range dirs {
		owners = append(owners, ownerOfDir(d))
	}
	return owners, func() []string {
		var left []string
		for _, pid := range pids {
			if syscall.Kill(pid, 0) == nil {
				left = append(left, fmt.Sprintf("pid %d", pid))
			}
		}
		return append(append(left, existing(dirs)...), redisChildren()...)
	}
}
