// Command redlock-harness runs lock strategies against five real Redis nodes under injected faults and reports,
// with evidence, which keep mutual exclusion.
//
//	redlock-harness run --scenario partition [--strategy a,b|all] [--seed N] [--duration D] [--backend local] [--out DIR]
//	redlock-harness check PATH
//	redlock-harness list
//
// Exit codes: 0 every verdict valid, 1 a violation found, 2 the harness could not run or a verdict is unknown (in a
// run of several strategies, not the unknown of a lock scenarios/expectations.yaml expects to stall there).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/redis/go-redis/v9"
)

// Exit codes, as Jepsen's: a violation is not a crash of the tool.
const (
	exitValid   = 0
	exitInvalid = 1
	exitNoRun   = 2
)

const usage = `redlock-harness: prove which distributed locks keep mutual exclusion under real faults.

Commands:
  run     --scenario NAME [--strategy a,b|all] [--seed N] [--duration D] [--backend local] [--out DIR]
          run a scenario against lock strategies and judge each run
  check   PATH          re-judge a saved history (a history.jsonl or a run directory)
  report  RUN_DIR       re-judge a run and regenerate its report.html from the history
  compare [--scenarios …] [--strategies …] [--seeds N|A-B] [--duration D] [--parallel P] [--stop-on-violation]
          run the strategies × scenarios matrix; writes results/compare/<timestamp>/matrix.{md,json,html}
  gate    [--expectations FILE] [--seeds N|A-B] [--share 0.9] [--junit FILE] [--readme README.md] [--full-length]
          hold every cell to scenarios/expectations.yaml; exit 1 when a safe lock is found invalid or an
          unsafe one goes uncaught
  mutants [--mutants …] [--scenarios …] [--seeds 10] [--gate]
          run every mutant (a strategy with one planted bug) and its twin under the scenarios of its plan and
          print the mutation score; writes results/mutants/<timestamp>/mutants.{md,json}
  list    [--mutants]   scenarios, strategies and faults (or the mutants) with one-line descriptions
  setup                 build what the clock faults need beside libfaketime (make deps runs it)
  bench   [--strategies …] [--workers 32] [--duration 3s] [--out FILE]
          lock cycles/s per strategy through Toxiproxy and straight to its servers, beside redis-benchmark

Exit codes: 0 every verdict valid, 1 a violation found, 2 the harness could not run or a verdict is unknown (in a
run of several strategies, not the unknown of a lock scenarios/expectations.yaml expects to stall there).
Run 'redlock-harness COMMAND -h' for a command's flags.
`

// quietDriver drops go-redis's own log lines ("failed to dial after N attempts", pool notices): under injected
// faults they come by the hundred, and what they say is already in the history as info and fail events.
type quietDriver struct{}

func (quietDriver) Printf(context.Context, string, ...any) {}

func main() {
	redis.SetLogger(quietDriver{})
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitNoRun
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	switch args[0] {
	case "run":
		return cmdRun(ctx, args[1:], stdout, stderr)
	case "check":
		return cmdCheck(args[1:], stdout, stderr)
	case "report":
		return cmdReport(args[1:], stdout, stderr)
	case "compare":
		return cmdCompare(ctx, args[1:], stdout, stderr)
	case "gate":
		return cmdGate(ctx, args[1:], stdout, stderr)
	case "mutants":
		return cmdMutants(ctx, args[1:], stdout, stderr)
	case "bench":
		return cmdBench(ctx, args[1:], stdout, stderr)
	case "list":
		return cmdList(args[1:], stdout, stderr)
	case "setup":
		return cmdSetup(args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return exitValid
	default:
		fmt.Fprintf(stderr, "redlock-harness: unknown command %q\n\n%s", args[0], usage)
		return exitNoRun
	}
}

// parseFlags parses fs and turns -h and bad flags into exit codes.
func parseFlags(fs *flag.FlagSet, args []string, stderr io.Writer) (int, bool) {
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitValid, false
		}
		return exitNoRun, false
	}
	return 0, true
}
