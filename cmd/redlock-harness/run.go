package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/redlock-harness/redlock-harness/checker"
	"github.com/redlock-harness/redlock-harness/harness"
	"github.com/redlock-harness/redlock-harness/harness/cluster"
	"github.com/redlock-harness/redlock-harness/lock"
	"github.com/redlock-harness/redlock-harness/scenarios"
)

func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	scenario := fs.String("scenario", "", "scenario name (see `list`) or path of a scenario .yaml file")
	strategies := fs.String("strategy", "", "comma-separated strategies, or all (default: the scenario's own list, else all)")
	seed := fs.Int64("seed", 1, "seed every random choice derives from")
	duration := fs.Duration("duration", 0, "override the scenario's duration")
	backend := fs.String("backend", "local", "where the nodes run: local (redis-server processes) or docker (containers through the local Docker engine; the image is built offline at first use)")
	out := fs.String("out", "results", "results directory")
	toxAPI := fs.String("toxiproxy-api", "", "serve the embedded Toxiproxy's HTTP API on this address (e.g. 127.0.0.1:8474)")
	quiet := fs.Bool("quiet", false, "no progress line")
	if code, ok := parseFlags(fs, args, stderr); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "run: unexpected argument %q\n", fs.Arg(0))
		return exitNoRun
	}
	if *scenario == "" {
		fmt.Fprintf(stderr, "run: --scenario is required (one of: %s)\n", strings.Join(scenarios.Names(), ", "))
		return exitNoRun
	}
	sc, err := scenarios.Load(*scenario)
	if err != nil {
		fmt.Fprintf(stderr, "run: %v\n", err)
		return exitNoRun
	}
	names, err := strategyNames(*strategies, sc)
	if err != nil {
		fmt.Fprintf(stderr, "run: %v\n", err)
		return exitNoRun
	}
	mk, err := backendMaker(*backend)
	if err != nil {
		fmt.Fprintf(stderr, "run: %v\n", err)
		return exitNoRun
	}
	var progress io.Writer
	tty := false
	if !*quiet {
		progress, tty = stderr, isTerminal(stderr)
	}
	code := exitValid
	for _, name := range names {
		info, _ := lock.Lookup(name)
		res, err := harness.Run(ctx, harness.Config{
			Scenario: sc, Strategy: info.Make(), Seed: *seed, Duration: *duration, Backend: mk(),
			OutDir: *out, ToxiproxyAPI: *toxAPI, Progress: progress, ProgressTTY: tty,
		})
		if err != nil {
			if errors.Is(err, context.Canceled) {
				fmt.Fprintln(stdout, res.Summary())
				return exitNoRun
			}
			fmt.Fprintf(stderr, "%s/%s: %v\n", sc.Name, name, err)
			return exitNoRun
		}
		fmt.Fprintln(stdout, res.Summary())
		code = worse(code, exitCode(res.Verdict))
	}
	return code
}

// strategyNames resolves --strategy: a list, "all", or the scenario's default.
func strategyNames(flagVal string, sc *scenarios.Scenario) ([]string, error) {
	switch strings.TrimSpace(flagVal) {
	case "":
		if len(sc.Strategies) > 0 {
			return sc.Strategies, nil
		}
		return lock.Names(), nil
	case "all":
		return lock.Names(), nil
	}
	var out []string
	for _, n := range strings.Split(flagVal, ",") {
		n = strings.TrimSpace(n)
		if n == "" {
			continue
		}
		if _, err := lock.Lookup(n); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, errors.New("--strategy names no strategy")
	}
	return out, nil
}

// backendMaker resolves --backend to a constructor: each run gets a backend of its own.
func backendMaker(name string) (func() cluster.Backend, error) {
	switch name {
	case "local":
		return func() cluster.Backend { return &cluster.Local{} }, nil
	case "docker":
		return func() cluster.Backend { return &cluster.Docker{} }, nil
	default:
		return nil, fmt.Errorf("unknown backend %q (known: local, docker)", name)
	}
}

func exitCode(v checker.Verdict) int {
	switch v {
	case checker.Valid:
		return exitValid
	case checker.Invalid:
		return exitInvalid
	default:
		return exitNoRun
	}
}

// worse merges exit codes: a harness failure or unknown (2) outranks a violation (1), which outranks valid (0).
func worse(a, b int) int { return max(a, b) }

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
