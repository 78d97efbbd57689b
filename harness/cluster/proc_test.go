package cluster

import (
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestPauseReturnsOnlyOnceEveryThreadOfABusyProcessHasStopped(t *testing.T) {
	// A shell spinning on a CPU is the case kill(2) alone gets wrong: the signal is queued, the loop still runs.
	p, err := StartProc(exec.Command("sh", "-c", "while :; do :; done"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Kill()
	for round := range 50 {
		if err := p.Pause("n1"); err != nil {
			t.Fatal(err)
		}
		if !stopped(p.PID()) {
			t.Fatalf("round %d: the process still ran when Pause returned", round)
		}
		if err := p.Resume(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestAProcessThatIsGoneCountsAsStopped(t *testing.T) {
	if !stopped(1 << 30) {
		t.Fatal("a pid with no process is not stopped")
	}
}

func TestAFreezeThatDoesNotTakeWithinItsBoundIsAnErrorNamingTheNode(t *testing.T) {
	p, err := StartProc(exec.Command("sh", "-c", "while :; do :; done"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Kill()
	// No SIGSTOP was sent: the process runs on, as one stuck in the kernel would past the bound.
	if err := awaitStopped("n3", []int{p.PID()}, 20*time.Millisecond); err == nil || !strings.Contains(err.Error(), "pause n3") {
		t.Fatalf("got %v, want an error naming n3", err)
	}
}
