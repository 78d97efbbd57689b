//go:build linux

package report

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

var screenshot = flag.String("screenshot", "", "save the screenshot of the invalid run's report to this path too (e.g. ../../docs/report-screenshot.png)")

// chromium finds headless Chromium, installing Debian's package when the test runs as root.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	const install = "apt-get install -y chromium"
	if os.Geteuid() != 0 {
		t.Skip("headless Chromium is not installed; install it with: sudo " + install)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	for _, cmd := range []string{install, "apt-get update && " + install} {
		out, err := exec.CommandContext(ctx, "sh", "-c", "DEBIAN_FRONTEND=noninteractive "+cmd).CombinedOutput()
		if err == nil {
			break
		}
		t.Logf("%s: %v\n%s", cmd, err, out)
	}
	p, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("could not install Chromium; install it with: %s", install)
	}
	return p
}

// runChromium runs headless Chromium on a page and returns its stdout and stderr. The whole process group is
// killed when it takes longer than the timeout, so a hung browser cannot hang the test.
// chromiumDeadline only keeps a hung browser from hanging the test: a cold start on a loaded two-core machine,
// with other test packages running beside it, has taken over 20 s.
const chromiumDeadline = 2 * time.Minute

func runChromium(t *testing.T, page string, timeout time.Duration, args ...string) (stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0",
		"--user-data-dir=" + t.TempDir(), "--no-first-run", "--no-default-browser-check", "--disable-extensions",
		"--disable-dev-shm-usage", "--hide-scrollbars", "--force-device-scale-factor=1"}
	cmd := exec.CommandContext(ctx, chromium(t), append(append(base, args...), "file://"+page)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 2 * time.Second
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("chromium did not finish within %s", timeout)
	}
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("chromium: %v", err)
	}
	return out.String(), errb.String()
}

// bodyAttrs reads the data- attributes of the body element from a dumped DOM.
func bodyAttrs(t *testing.T, dom string) map[string]string {
	t.Helper()
	tag := regexp.MustCompile(`<body[^>]*>`).FindString(dom)
	if tag == "" {
		t.Fatalf("no <body> in the dumped DOM:\n%.2000s", dom)
	}
	attrs := map[string]string{}
	for _, m := range regexp.MustCompile(`data-([a-z-]+)="([^"]*)"`).FindAllStringSubmatch(tag, -1) {
		attrs[m[1]] = m[2]
	}
	return attrs
}

// consoleLines are the messages the page wrote to the console (the page writes none) and uncaught errors.
func consoleLines(stderr string) []string {
	var out []string
	for _, l := range strings.Split(stderr, "\n") {
		if strings.Contains(l, ":CONSOLE") || strings.Contains(l, "Uncaught") {
			out = append(out, l)
		}
	}
	return out
}

func writePage(t *testing.T, in Input) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "report.html")
	if err := WriteFile(path, in); err != nil {
		t.Fatal(err)
	}
	return path
}

// screenshotRun is the run the screenshot shows: six workers, a partition and a client stall, and two violations
// of different causes.
func screenshotRun() Input {
	h, viols := synthRun{Groups: 3, Workers: 2, Ops: 220, Violations: true, Seed: 11}.Generate()
	return Input{
		History: h, Verdict: "invalid", Violations: viols,
		Summary: fmt.Sprintf("invalid: %s and %s overlap on k0 (both read %d; lease-outlived by %s; faults: client-stall), and 1 more",
			viols[0].A.Worker, viols[0].B.Worker, viols[0].A.Read, viols[0].A.Worker),
		Tables: []Table{{Title: "Liveness", Header: []string{"", "all", "in faults", "outside"}, Rows: [][]string{
			{"acquires tried / granted", "61 / 55", "19 / 15", "42 / 40"},
			{"indeterminate", "3", "3", "0"},
			{"critical sections written", "53", "14", "39"},
			{"acquire p50 / p99", "1.8 ms / 21 ms", "9.4 ms / 22 ms", "1.6 ms / 2.9 ms"},
		}, Note: "acquires placed by their invocation, critical sections by their write"}},
		Links: map[string]string{"linearizability.html": "porcupine visualisation", "verdict.json": "verdict.json"},
	}
}

// TestBrowserInvalidRun opens the report of an invalid run in headless Chromium and reads back what the page's
// script reports in the DOM: no error, one lane per worker, every violating section located and outlined.
func TestBrowserInvalidRun(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: not in -short")
	}
	in := screenshotRun()
	page := writePage(t, in)
	tl := buildTimeline(in.History, in.Violations)

	dom, stderr := runChromium(t, page, chromiumDeadline, "--dump-dom")
	a := bodyAttrs(t, dom)
	if a["errors"] != "0" {
		t.Errorf("the page's script raised %s errors: %s", a["errors"], a["error"])
	}
	if a["ready"] != "1" {
		t.Errorf("the page's script did not finish (data-ready=%q)", a["ready"])
	}
	if a["lanes"] != strconv.Itoa(len(tl.Lanes)) || len(tl.Lanes) != 6 {
		t.Errorf("data-lanes=%q, want one per worker: %d", a["lanes"], len(tl.Lanes))
	}
	want := strconv.Itoa(2 * len(in.Violations))
	if a["highlighted"] != want || a["outlined"] != want {
		t.Errorf("data-highlighted=%q data-outlined=%q, want %s (both sections of each violation)", a["highlighted"], a["outlined"], want)
	}
	if c := consoleLines(stderr); len(c) > 0 {
		t.Errorf("console output:\n%s", strings.Join(c, "\n"))
	}
	t.Logf("init %s ms, first frame %s ms", a["init-ms"], a["draw-ms"])

	// Opened at #v2, the page zooms to the second violation: its two sections stay outlined.
	dom, _ = runChromium(t, page+"#v2", chromiumDeadline, "--dump-dom")
	if a := bodyAttrs(t, dom); a["errors"] != "0" || a["outlined"] != "2" {
		t.Errorf("at #v2: data-errors=%q (%s) data-outlined=%q, want 0 and the pair's 2", a["errors"], a["error"], a["outlined"])
	}

	// At #selftest the page runs every tooltip, hit test and input handler once.
	dom, stderr = runChromium(t, page+"#selftest", chromiumDeadline, "--dump-dom")
	if a := bodyAttrs(t, dom); a["errors"] != "0" || a["ready"] != "1" || a["selftest"] == "" || a["selftest"] == "0" {
		t.Errorf("self-test: data-errors=%q (%s) data-ready=%q data-selftest=%q", a["errors"], a["error"], a["ready"], a["selftest"])
	}
	if c := consoleLines(stderr); len(c) > 0 {
		t.Errorf("self-test console output:\n%s", strings.Join(c, "\n"))
	}

	shot := filepath.Join(t.TempDir(), "report.png")
	runChromium(t, page, chromiumDeadline, "--screenshot="+shot, "--window-size=1400,900")
	f, err := os.Open(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	defer f.Close()
	cfg, err := png.DecodeConfig(f)
	if err != nil || cfg.Width != 1400 || cfg.Height != 900 {
		t.Fatalf("screenshot %dx%d: %v", cfg.Width, cfg.Height, err)
	}
	if *screenshot != "" {
		b, _ := os.ReadFile(shot)
		if err := os.WriteFile(*screenshot, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestBrowserLargeRun loads the report of a 100k-operation run: the page must parse its blob and draw without
// error in a real browser. The timings it logs are for people, not asserted.
func TestBrowserLargeRun(t *testing.T) {
	if testing.Short() {
		t.Skip("large page")
	}
	h, viols := synthRun{Groups: 3, Workers: 8, Ops: 100_000, Violations: true, Seed: 5}.Generate()
	page := writePage(t, Input{History: h, Violations: viols, Verdict: "invalid"})
	dom, stderr := runChromium(t, page, chromiumDeadline, "--dump-dom")
	a := bodyAttrs(t, dom)
	if a["errors"] != "0" || a["ready"] != "1" || a["lanes"] != "24" {
		t.Errorf("data-errors=%q (%s) data-ready=%q data-lanes=%q", a["errors"], a["error"], a["ready"], a["lanes"])
	}
	if c := consoleLines(stderr); len(c) > 0 {
		t.Errorf("console output:\n%s", strings.Join(c, "\n"))
	}
	st, _ := os.Stat(page)
	t.Logf("%d bytes; init %s ms, first frame %s ms", st.Size(), a["init-ms"], a["draw-ms"])
}

// TestBrowserEdgeCases: a valid run, the hand-written history and a report with no history at all open without
// error, and their self-tests pass.
func TestBrowserEdgeCases(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: not in -short")
	}
	for name, in := range map[string]Input{
		"valid":      {History: loadSmall(t), Verdict: "valid", Summary: "valid"},
		"small":      smallInput(t),
		"no history": {Verdict: "unknown", Violations: smallViolations()},
	} {
		t.Run(name, func(t *testing.T) {
			dom, stderr := runChromium(t, writePage(t, in)+"#selftest", chromiumDeadline, "--dump-dom")
			a := bodyAttrs(t, dom)
			if a["errors"] != "0" || a["ready"] != "1" || a["selftest"] == "" {
				t.Errorf("data-errors=%q (%s) data-ready=%q data-selftest=%q", a["errors"], a["error"], a["ready"], a["selftest"])
			}
			if c := consoleLines(stderr); len(c) > 0 {
				t.Errorf("console output:\n%s", strings.Join(c, "\n"))
			}
		})
	}
}
