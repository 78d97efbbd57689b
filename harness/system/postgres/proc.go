package postgres

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// DefaultBinDir is where Debian's postgresql-15 package puts the server binaries (they are not on PATH).
const DefaultBinDir = "/usr/lib/postgresql/15/bin"

// InstallCommand is what a user runs to get the server binaries the local backend needs.
const InstallCommand = "sudo apt-get install -y postgresql-15"

// ErrNoPostgres means the server binaries are not installed: the harness installs nothing itself (`make deps`
// provisions the machine).
var ErrNoPostgres = errors.New("PostgreSQL server binaries not found")

// findBinaries returns the paths of initdb and postgres in dir, or an error carrying the install command.
func findBinaries(dir string) (initdb, server string, err error) {
	initdb, server = filepath.Join(dir, "initdb"), filepath.Join(dir, "postgres")
	for _, p := range []string{initdb, server} {
		if st, err := os.Stat(p); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
			return "", "", fmt.Errorf("%w: no %s: install them with `make deps` or `%s`", ErrNoPostgres, p, InstallCommand)
		}
	}
	return initdb, server, nil
}

// serverUser is who the servers run as: nil (the harness's own user) unless the harness runs as root, which
// initdb and postgres refuse; then the postgres user the Debian package creates.
func serverUser() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root, the servers must run as the postgres user, which does not exist (%v): install it with `%s`", err, InstallCommand)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return nil, err
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}, nil
}

// chown gives path to the servers' user (nothing to do when they run as the harness's own).
func chown(path string, cred *syscall.Credential) error {
	if cred == nil {
		return nil
	}
	return os.Chown(path, int(cred.Uid), int(cred.Gid))
}

// tempRoot is where the backend's directories go: the temporary directory, unless the servers run as another
// user who cannot reach it (a TMPDIR inside root's home), then /tmp.
func tempRoot(cred *syscall.Credential) string {
	dir := os.TempDir()
	if cred == nil {
		return dir
	}
	for d := dir; ; d = filepath.Dir(d) {
		st, err := os.Stat(d)
		if err != nil || st.Mode().Perm()&0o001 == 0 {
			return "/tmp"
		}
		if d == filepath.Dir(d) {
			return dir
		}
	}
}

// children lists the processes whose parent is pid: a postmaster's backends and auxiliary processes. They are
// found by their parent, not by process group: PostgreSQL makes every child of the postmaster the leader of a
// session of its own (setsid in InitPostmasterChild), so a signal to the postmaster's group reaches none of them.
func children(pid int) []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if ppid, state, ok := procStat(p); ok && ppid == pid && state != "Z" {
			out = append(out, p)
		}
	}
	return out
}

// procStat reads a process's parent and state from /proc/pid/stat.
func procStat(pid int) (ppid int, state string, ok bool) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, "", false
	}
	i := bytes.LastIndexByte(b, ')') // the command name may hold spaces
	if i < 0 {
		return 0, "", false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return 0, "", false
	}
	ppid, err = strconv.Atoi(f[1])
	return ppid, f[0], err == nil
}

// ownerAlive reports whether the process an owner tag ("pid:starttime", cluster.OwnerTag) names still runs. A
// malformed tag is judged alive: what it marks is left alone.
func ownerAlive(tag string) bool {
	pid, start, ok := strings.Cut(strings.TrimSpace(tag), ":")
	n, err := strconv.Atoi(pid)
	if !ok || err != nil || n <= 0 {
		return true
	}
	b, err := os.ReadFile(filepath.Join("/proc", pid, "stat"))
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	f := strings.Fields(string(b[i+1:]))
	return len(f) >= 20 && f[19] == start
}
