// Package testbin builds the project's command for the tests that run it, or run processes from it, as a plain
// build: a test binary is built with the race detector, and a server process started from it (an etcd member)
// would run race-instrumented, several times slower than the real thing.
package testbin

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/redlock-harness/redlock-harness/harness/system/etcd"
)

// command is the package path of the project's command.
const command = "github.com/redlock-harness/redlock-harness/cmd/redlock-harness"

// Build builds the project's command into a new temporary directory and returns its path and the function that
// removes it. It panics when the build fails: a TestMain has no test to fail.
func Build() (path string, remove func()) {
	dir, err := os.MkdirTemp("", "redlock-harness-bin-")
	if err != nil {
		panic(err)
	}
	path = filepath.Join(dir, "redlock-harness")
	if out, err := exec.Command("go", "build", "-o", path, command).CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		panic(fmt.Sprintf("go build %s: %v\n%s", command, err, out))
	}
	return path, func() { os.RemoveAll(dir) }
}

// PlainEtcdMembers is a testslot.Main before-function: it builds the command and has the etcd members the tests
// start run from it (etcd.MemberExecutableEnv), and returns the function that removes the build.
func PlainEtcdMembers() (after func()) {
	exe, remove := Build()
	os.Setenv(etcd.MemberExecutableEnv, exe)
	return remove
}
