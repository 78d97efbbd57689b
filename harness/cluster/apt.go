package cluster

import (
	"fmt"
	"os/exec"
	"sync"
)

// aptMu serialises this process's package installs: two backends of one run (or two runs of a matrix) that both
// miss a package would otherwise race for dpkg's lock.
var aptMu sync.Mutex

// aptInstall installs Debian packages as root, running apt-get update only when the first try fails (the package
// lists of a fresh machine are often empty). apt-get waits up to five minutes for dpkg's lock, which another
// process installing packages at the same time may hold, instead of failing at once.
func aptInstall(pkgs ...string) error {
	aptMu.Lock()
	defer aptMu.Unlock()
	install := func() ([]byte, error) {
		args := append([]string{"-o", "DPkg::Lock::Timeout=300", "install", "-y"}, pkgs...)
		return exec.Command("apt-get", args...).CombinedOutput()
	}
	if _, err := install(); err == nil {
		return nil
	}
	if out, err := exec.Command("apt-get", "-o", "DPkg::Lock::Timeout=300", "update").CombinedOutput(); err != nil {
		return fmt.Errorf("apt-get update failed: %v\n%s", err, out)
	}
	if out, err := install(); err != nil {
		return fmt.Errorf("`apt-get install -y %v` failed: %v\n%s", pkgs, err, out)
	}
	return nil
}
