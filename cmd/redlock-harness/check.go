package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/redlock-harness/redlock-harness/checker"
	"github.com/redlock-harness/redlock-harness/harness"
	"github.com/redlock-harness/redlock-harness/history"
)

func cmdCheck(args []string, stdout, stderr io.Writer) int {
	return judge("check", false, args, stdout, stderr)
}

// cmdReport re-judges a run and rewrites its report.html from the history.
func cmdReport(args []string, stdout, stderr io.Writer) int {
	return judge("report", true, args, stdout, stderr)
}

func judge(name string, report bool, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	writeReport := fs.Bool("report", report, "also write report.html and linearizability.html beside the history")
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
	opts := checker.Options{Timeout: *timeout}
	if nodes, err := history.ReadNodes(filepath.Join(filepath.Dir(path), history.NodeFile)); err == nil {
		opts.Nodes = nodes // the servers' record beside the history: causes are read from it
	}
	r := checker.Check(h, opts)
	fmt.Fprintln(stdout, r.Text())
	if *writeReport {
		dir := filepath.Dir(path)
		if err := harness.WriteReport(dir, h, r); err != nil {
			fmt.Fprintf(stderr, "report: %v\n", err)
			return exitNoRun
		}
		_ = r.WriteVisualization(filepath.Join(dir, "linearizability.html"))
		fmt.Fprintf(stdout, "report: %s\n", filepath.Join(dir, "report.html"))
	}
	return exitCode(r.Verdict)
}
