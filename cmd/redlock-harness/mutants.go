package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/redlock-harness/redlock-harness/lock"
	"github.com/redlock-harness/redlock-harness/matrix"
	"github.com/redlock-harness/redlock-harness/scenarios"
)

// mutantsParallel is how many mutant runs go at once unless told otherwise: three for every two CPUs. Most end at
// their first violation, so more at once than compare's one per CPU keeps `make mutants` within 15 minutes, but
// not two per CPU: measured on 2 CPUs, four at once flagged 49 of 220 runs overloaded (goroutines waiting for a CPU
// for half a per-node timeout) and moved two rates (redlock~drift-ignored 8/10, 10/10 at two at once); three at
// once flagged 23 of 230 and took 13 min 33 s, where two at once would take about 20.
func mutantsParallel() int { return max(1, 3*defaultParallel()/2) }

// flagSet says whether the command line gave flag name.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// mutantsInputs resolves the mutants command's plans file, its list of mutants and its list of scenarios (empty:
// each mutant's plan's own).
func mutantsInputs(plansFile, only, scenarioList string) (*scenarios.MutantPlans, []lock.Info, []string, error) {
	plans, err := scenarios.LoadMutantPlans(plansFile)
	if err != nil {
		return plans, nil, nil, err
	}
	mutants, err := pickMutants(only)
	if err != nil {
		return plans, nil, nil, err
	}
	var scs []string
	if scenarioList != "" {
		scs, err = splitList(scenarioList, scenarios.Names(), func(n string) error { _, err := scenarios.Load(n); return err })
	}
	return plans, mutants, scs, err
}

// cmdMutants runs every mutant (a strategy with one planted bug) and its healthy twin under the scenarios of the
// mutant's plan and prints the mutation score: what the harness can see.
func cmdMutants(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("mutants", flag.ContinueOnError)
	var mf matrixFlags
	mf.register(fs, "10")
	if f := fs.Lookup("parallel"); f != nil {
		f.Usage, f.DefValue = "runs at once (each owns its nodes, ports and proxies); default: three for every two CPUs", strconv.Itoa(mutantsParallel())
	}
	only := fs.String("mutants", "", "comma-separated mutants (default: all; see `list --mutants`)")
	plansFile := fs.String("plans", "", "mutant plans file (default: the built-in scenarios/mutants.yaml)")
	gate := fs.Bool("gate", false, "exit 1 when a mutant is not caught by a scenario its plan names: the score dropped")
	if code, ok := parseFlags(fs, args, stderr); !ok {
		return code
	}
	if !flagSet(fs, "parallel") {
		mf.parallel = mutantsParallel()
	}
	plans, mutants, scs, err := mutantsInputs(*plansFile, *only, mf.scenarios)
	if err != nil {
		fmt.Fprintf(stderr, "mutants: %v\n", err)
		return exitNoRun
	}
	start := time.Now()
	var m *matrix.Matrix
	if mf.merge {
		m, err = matrix.ReadShards(fs.Args())
	} else {
		var p matrix.Plan
		if p, err = mf.plan(nil); err != nil {
			fmt.Fprintf(stderr, "mutants: %v\n", err)
			return exitNoRun
		}
		fmt.Fprintf(stdout, "mutants: %d mutants, seeds %s; a mutant's runs end at its first violation, and its twin runs where it was caught\n",
			len(mutants), mf.seeds)
		m, err = matrix.RunMutants(ctx, p, mutants, plans, scs, progressLine(mf.quiet, stdout))
	}
	if m == nil || err != nil {
		fmt.Fprintf(stderr, "mutants: %v\n", err)
		return exitNoRun
	}
	if mf.shard != "" && !mf.merge {
		dir := filepath.Join(mf.out, "mutants", time.Now().Format("20060102-150405")+"-shard"+strings.ReplaceAll(mf.shard, "/", "of"))
		if err := m.WriteAll(dir); err != nil {
			fmt.Fprintf(stderr, "mutants: %v\n", err)
			return exitNoRun
		}
		fmt.Fprintf(stdout, "\nmutants: shard %s written to %s; score the whole with `mutants --merge DIR…`\n", mf.shard, dir)
		return exitValid
	}
	rep := matrix.JudgeMutants(m, mutants, plans, scs)
	dir := filepath.Join(mf.out, "mutants", time.Now().Format("20060102-150405"))
	if err := rep.WriteAll(dir); err != nil {
		fmt.Fprintf(stderr, "mutants: %v\n", err)
		return exitNoRun
	}
	fmt.Fprintln(stdout)
	_ = rep.WriteMarkdown(stdout)
	fmt.Fprintf(stdout, "\nmutation score %d/%d in %s; results in %s/mutants.{md,json}\n", rep.Score.Caught, rep.Score.Total,
		time.Since(start).Round(time.Second), dir)
	if !*gate {
		return exitValid
	}
	var missed []string
	for _, r := range rep.Mutants {
		if r.CaughtBy == "" && len(r.Trials) > 0 {
			missed = append(missed, r.Name)
		}
	}
	if len(missed) > 0 {
		fmt.Fprintf(stdout, "FAIL the harness no longer catches %s where its plan says it should\n", strings.Join(missed, ", "))
		return exitInvalid
	}
	return exitValid
}

// pickMutants resolves --mutants: a list of mutant names, or every mutant.
func pickMutants(list string) ([]lock.Info, error) {
	all := lock.Mutants()
	if strings.TrimSpace(list) == "" || list == "all" {
		return all, nil
	}
	var out []lock.Info
	for _, n := range strings.Split(list, ",") {
		n = strings.TrimSpace(n)
		info, err := lock.Lookup(n)
		if err != nil || info.Twin == "" {
			return nil, fmt.Errorf("unknown mutant %q (see `redlock-harness list --mutants`)", n)
		}
		out = append(out, info)
	}
	return out, nil
}
