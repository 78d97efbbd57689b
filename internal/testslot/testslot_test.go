package testslot

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

func TestASecondHolderWaitsUntilTheFirstOneEnds(t *testing.T) {
	t.Setenv(heldEnv, "")
	path := filepath.Join(t.TempDir(), lockName)
	if err := take(path); err != nil {
		t.Fatal(err)
	}
	other, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := syscall.Flock(int(other.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != syscall.EWOULDBLOCK {
		t.Fatalf("a second taker got %v while the slot was held, want EWOULDBLOCK", err)
	}
	held.Close() // what the first binary's exit does
	if err := syscall.Flock(int(other.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatalf("the slot stayed taken after its holder ended: %v", err)
	}
}

func TestAProcessStartedByTheHolderDoesNotWaitForItsParentsSlot(t *testing.T) {
	t.Setenv(heldEnv, "")
	if err := take(filepath.Join(t.TempDir(), lockName)); err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	if os.Getenv(heldEnv) == "" {
		t.Fatalf("the holder did not mark its environment: a child test binary would wait for its parent forever")
	}
}

func TestAWaiterGivesUpAfterItsBoundRatherThanWaitForAHungHolder(t *testing.T) {
	t.Setenv(heldEnv, "")
	path := filepath.Join(t.TempDir(), lockName)
	hung, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		t.Fatal(err)
	}
	defer hung.Close()
	if err := syscall.Flock(int(hung.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	defer func(w time.Duration) { maxWait = w }(maxWait)
	maxWait = 300 * time.Millisecond
	if err := take(path); err == nil {
		held.Close()
		t.Fatalf("took the slot another holder still held")
	}
}
