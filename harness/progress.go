package harness

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/redlock-harness/redlock-harness/harness/fault"
	"github.com/redlock-harness/redlock-harness/harness/workload"
	"github.com/redlock-harness/redlock-harness/history"
)

type progress struct {
	done chan struct{}
	wg   sync.WaitGroup
}

// startProgress shows elapsed / duration, critical sections, the overlap check's verdict so far (lost updates
// the resource saw as they happened) and the faults in force: redrawn in place on a
// terminal every half second, or as a plain line every five seconds elsewhere (no control characters in logs).
func startProgress(cfg Config, res Result, total time.Duration, clock history.Clock, wl *workload.Workload, nem *fault.Nemesis) *progress {
	p := &progress{done: make(chan struct{})}
	if cfg.Progress == nil {
		return p
	}
	every := 5 * time.Second
	if cfg.ProgressTTY {
		every = 500 * time.Millisecond
	}
	line := func() string {
		faults := strings.Join(nem.Active(), ",")
		if faults == "" {
			faults = "none"
		}
		overlap := "none so far"
		if n := wl.Resource().LostUpdates(); n > 0 {
			overlap = fmt.Sprintf("VIOLATED (%d lost updates so far)", n)
		}
		return fmt.Sprintf("%s/%s seed %d: %5.1fs / %s  cs written %d abandoned %d  overlap: %s  faults: %s",
			res.Scenario, res.Strategy, res.Seed, time.Duration(clock.Now()).Seconds(), total, wl.Written(), wl.Abandoned(), overlap, faults)
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-p.done:
				if cfg.ProgressTTY {
					fmt.Fprint(cfg.Progress, "\r\033[K")
				}
				return
			case <-t.C:
				if cfg.ProgressTTY {
					fmt.Fprintf(cfg.Progress, "\r\033[K%s", line())
				} else {
					fmt.Fprintln(cfg.Progress, line())
				}
			}
		}
	}()
	return p
}

func (p *progress) stop() {
	select {
	case <-p.done:
	default:
		close(p.done)
	}
	p.wg.Wait()
}
