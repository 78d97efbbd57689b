package main

import (
	"flag"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/redlock-harness/redlock-harness/harness/fault"
	"github.com/redlock-harness/redlock-harness/lock"
	"github.com/redlock-harness/redlock-harness/scenarios"
)

func cmdList(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("list", flag.ContinueOnError)
	if code, ok := parseFlags(fs, args, stderr); !ok {
		return code
	}
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SCENARIOS")
	for _, n := range scenarios.Names() {
		s, err := scenarios.Load(n)
		if err != nil {
			fmt.Fprintf(tw, "  %s\tERROR: %v\n", n, err)
			continue
		}
		fmt.Fprintf(tw, "  %s\t%s (%s)\n", n, s.Description, s.Duration)
	}
	fmt.Fprintln(tw, "\nSTRATEGIES")
	for _, info := range lock.All() {
		fmt.Fprintf(tw, "  %s\t%s [%s] weakness: %s\n", info.Name, info.Summary, info.Origin, info.Weakness)
	}
	fmt.Fprintln(tw, "\nFAULTS")
	for _, k := range fault.Kinds() {
		fmt.Fprintf(tw, "  %s\t%s\n", k.Name, k.Summary)
	}
	tw.Flush()
	return exitValid
}
