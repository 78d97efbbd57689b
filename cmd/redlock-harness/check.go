package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/redlock-harness/redlock-harness/checker"
	"github.com/redlock-harness/redlock-harness/history"
)

func cmdCheck(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	timeout := fs.Duration("timeout", 60*time.Second, "time limit of the linearizability check")
	if code, ok := parseFlags(fs, args, stderr); !ok {
		return code
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "check: give one path: a history.jsonl or a run directory")
		return exitNoRun
	}
	path := fs.Arg(0)
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		path = filepath.Join(path, "history.jsonl")
	}
	h, err := history.ReadFile(path)
	if err != nil {
		fmt.Fprintf(stderr, "check: %v\n", err)
		return exitNoRun
	}
	if h.Truncated != "" {
		fmt.Fprintf(stderr, "check: %s: %s\n", path, h.Truncated)
	}
	r := checker.Check(h, checker.Options{Timeout: *timeout})
	fmt.Fprintln(stdout, r.Text())
	return exitCode(r.Verdict)
}
