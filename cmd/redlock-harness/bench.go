package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/redlock-harness/redlock-harness/harness"
	"github.com/redlock-harness/redlock-harness/lock"
)

func cmdBench(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	strategies := fs.String("strategies", "", "comma-separated strategies (default: all)")
	workers := fs.Int("workers", 32, "workers, each on its own key")
	d := fs.Duration("duration", 3*time.Second, "measuring time per strategy and path")
	out := fs.String("out", "", "also write the table to this Markdown file")
	if code, ok := parseFlags(fs, args, stderr); !ok {
		return code
	}
	names, err := splitList(*strategies, lock.Names(), func(n string) error { _, err := lock.Lookup(n); return err })
	if err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return exitNoRun
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Lock throughput, %s\n\n%d workers each on its own key, acquire+release cycles for %s per cell, "+
		"5 local redis-server nodes, %d CPUs, %s.\n\n", time.Now().UTC().Format(time.DateTime), *workers, *d, runtime.NumCPU(), runtime.Version())
	rps, rerr := harness.RedisBenchmarkSET(ctx, *workers)
	if rerr == nil {
		fmt.Fprintf(&b, "redis-benchmark SET, %d clients, one node: **%.0f requests/s**.\n\n", *workers, rps)
	} else {
		fmt.Fprintf(&b, "redis-benchmark: %v\n\n", rerr)
	}
	b.WriteString("| strategy | system | cycles/s through Toxiproxy | cycles/s straight to the servers | proxied / direct | direct / redis-benchmark SET | through Toxiproxy with the node record | cost of the record |\n|---|---|---|---|---|---|---|---|\n")
	fmt.Fprint(stdout, b.String())
	for _, n := range names {
		row := benchRow(ctx, n, *workers, *d, rps)
		if ctx.Err() != nil {
			return exitNoRun
		}
		b.WriteString(row)
		fmt.Fprint(stdout, row)
	}
	if *out != "" {
		if err := os.MkdirAll(filepath.Dir(*out), 0o755); err == nil {
			err = os.WriteFile(*out, []byte(b.String()), 0o644)
		}
		if err != nil {
			fmt.Fprintf(stderr, "bench: %v\n", err)
			return exitNoRun
		}
	}
	return exitValid
}

// benchRow measures one strategy's lock cycles through the proxy and straight to its system's servers, and for
// Redis beside redis-benchmark and with the node record (MONITOR), which other systems do not keep.
func benchRow(ctx context.Context, n string, workers int, d time.Duration, rps float64) string {
	info, _ := lock.Lookup(n)
	sys := info.SystemName()
	p, err1 := harness.MeasureCycles(ctx, info.Make(), workers, true, d, 0)
	dr, err2 := harness.MeasureCycles(ctx, info.Make(), workers, false, d, 0)
	if sys != lock.SystemRedis {
		if err := errors.Join(err1, err2); err != nil {
			return fmt.Sprintf("| %s | %s | %v | | | | | |\n", n, sys, err)
		}
		return fmt.Sprintf("| %s | %s | %.0f | %.0f | %.2f | – | – | – |\n", n, sys, p.PerSecond(), dr.PerSecond(), ratio(p.PerSecond(), dr.PerSecond()))
	}
	rec, err3 := harness.MeasureCyclesRecorded(ctx, info.Make(), workers, true, d)
	if err := errors.Join(err1, err2, err3); err != nil {
		return fmt.Sprintf("| %s | %s | %v | | | | | |\n", n, sys, err)
	}
	return fmt.Sprintf("| %s | %s | %.0f | %.0f | %.2f | %s | %.0f | %.0f%% |\n", n, sys, p.PerSecond(), dr.PerSecond(), ratio(p.PerSecond(), dr.PerSecond()),
		ratioStr(dr.PerSecond(), rps), rec.PerSecond(), 100*(1-ratio(rec.PerSecond(), p.PerSecond())))
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

func ratioStr(a, b float64) string {
	if b == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.3f", a/b)
}
