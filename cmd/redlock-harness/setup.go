package main

import (
	"fmt"
	"io"

	"github.com/redlock-harness/redlock-harness/harness/cluster"
)

// cmdSetup provisions what the packages do not: the small shared object libfaketime needs beside it to run
// redis-server under a movable clock (the clock faults). `make deps` runs it after installing the packages; a
// run never builds anything itself, and says to run this when the shim is missing.
func cmdSetup(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		fmt.Fprintf(stderr, "setup takes no arguments\n")
		return exitNoRun
	}
	path, err := cluster.BuildFakeTimeShim()
	if err != nil {
		fmt.Fprintf(stderr, "setup: %v\n", err)
		return exitNoRun
	}
	fmt.Fprintf(stdout, "faketime shim: %s\n", path)
	return exitValid
}
