package main

import (
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/redlock-harness/redlock-harness/harness/fault"
	"github.com/redlock-harness/redlock-harness/harness/system"
	"github.com/redlock-harness/redlock-harness/lock"
	"github.com/redlock-harness/redlock-harness/scenarios"
)

func cmdList(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("list", flag.ContinueOnError)
	mutants := fs.Bool("mutants", false, "list the mutants instead: each strategy with one planted bug, its twin, and the scenarios expected to catch it")
	if code, ok := parseFlags(fs, args, stderr); !ok {
		return code
	}
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	if *mutants {
		return listMutants(tw, stderr)
	}
	fmt.Fprintln(tw, "SCENARIOS")
	for _, n := range scenarios.Names() {
		s, err := scenarios.Load(n)
		if err != nil {
			fmt.Fprintf(tw, "  %s\tERROR: %v\n", n, err)
			continue
		}
		fmt.Fprintf(tw, "  %s\t%s (%s)\n", n, s.Description, s.Duration)
	}
	fmt.Fprintln(tw, "\nSYSTEMS (the lock servers; a strategy locks against one)")
	for _, sys := range system.All() {
		fmt.Fprintf(tw, "  %s\t%s (backends: %s)\n", sys.Name(), sys.Summary(), strings.Join(sys.Backends(), ", "))
	}
	fmt.Fprintln(tw, "\nSTRATEGIES (by system; [A]-[E] are the articles docs/sources.md cites)")
	last := ""
	for _, info := range lock.All() {
		if info.SystemName() != last {
			last = info.SystemName()
			fmt.Fprintf(tw, "  %s:\n", last)
		}
		fmt.Fprintf(tw, "    %s\t%s [%s] weakness: %s\n", info.Name, info.Summary, info.Origin, info.Weakness)
	}
	fmt.Fprintln(tw, "\nFAULTS")
	for _, k := range fault.Kinds() {
		fmt.Fprintf(tw, "  %s\t%s\n", k.Name, k.Summary)
	}
	tw.Flush()
	return exitValid
}

// listMutants prints each mutant with its twin, its planted bug and its plan.
func listMutants(tw *tabwriter.Writer, stderr io.Writer) int {
	plans, err := scenarios.LoadMutantPlans("")
	if err != nil {
		fmt.Fprintf(stderr, "list: %v\n", err)
		return exitNoRun
	}
	fmt.Fprintln(tw, "MUTANTS (run them with `redlock-harness mutants`; each runs wherever a strategy does)")
	for _, m := range lock.Mutants() {
		p, _ := plans.Lookup(m.Name)
		plan := "caught by: " + strings.Join(p.KilledBy, ", ")
		if len(p.KilledBy) == 0 {
			plan = "not expected to be caught: " + p.Uncaught
		}
		fmt.Fprintf(tw, "  %s\ttwin %s: %s [%s]; %s\n", m.Name, m.Twin, m.Summary, m.Origin, plan)
	}
	tw.Flush()
	return exitValid
}
