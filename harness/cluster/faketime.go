package cluster

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Clock faults move a node's wall clock without touching the host's: the node runs under libfaketime, which
// answers the process's time calls with a fake time, and the fake time follows a file of the node's own.
//
// How it works (libfaketime 0.9.10, as Debian ships it):
//
//   - Preloading libfaketime alone deadlocks redis-server at start: libfaketime looks up a few symbols glibc no
//     longer has (__ftime, timer_settime@GLIBC_2.2, timer_gettime@GLIBC_2.2); a failed dlsym allocates its error
//     message, the allocation enters jemalloc's initialisation, which asks for the time, which re-enters
//     libfaketime's initialisation. A small shim that defines those symbols (and a sem_open that returns
//     SEM_FAILED, so libfaketime never sets up its shared-memory mode) makes every lookup succeed. libfaketime
//     looks them up with dlsym(RTLD_NEXT, …), which searches only the objects loaded after it, so the shim comes
//     after libfaketime in LD_PRELOAD.
//   - With FAKETIME=% and FAKETIME_FOLLOW_FILE, libfaketime re-reads the file's mtime on every time call
//     (FAKETIME_NO_CACHE=1) and answers mtime + (real now − the process's start): the mtime is the fake time at
//     the instant the process started, not the fake time now, and it counts in whole seconds (st_mtime).
//     FAKETIME_DONT_RESET=1 keeps the start fixed when the file changes; FAKETIME_DONT_FAKE_MONOTONIC=1 leaves
//     CLOCK_MONOTONIC alone, so only the wall clock (which Redis 7 expires keys by) moves.
//   - So that an offset can be exact, the shim holds the process at start until the next whole second: the
//     process's start S is then a whole second, and mtime = S + offset gives node time = real time + offset
//     from the moment the file is written. FakeClock.Calibrate measures S from the node's TIME after each start
//     and refuses a node whose start is not on a whole second.

// LibfaketimeInstallCommand is what a user runs to get libfaketime.
const LibfaketimeInstallCommand = "sudo apt-get install -y libfaketime"

// ErrNoLibfaketime means libfaketime is not installed and could not be installed.
var ErrNoLibfaketime = errors.New("libfaketime not found")

// libfaketimeCandidates are where distributions put the preload library.
var libfaketimeCandidates = []string{
	"/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
	"/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1",
	"/usr/lib/faketime/libfaketime.so.1",
	"/usr/local/lib/faketime/libfaketime.so.1",
	"/usr/lib64/faketime/libfaketime.so.1",
}

func findLibfaketime() string {
	cands := append([]string(nil), libfaketimeCandidates...)
	if m, _ := filepath.Glob("/usr/lib/*/faketime/libfaketime.so.1"); len(m) > 0 {
		cands = append(cands, m...)
	}
	for _, p := range cands {
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	return ""
}

// FindLibfaketime returns the path of libfaketime.so.1 (the single-threaded preload library), or an error naming
// the command that installs it: provisioning is `make deps`'s, never the library's. A docker backend copies the
// file it returns into its image.
func FindLibfaketime() (string, error) {
	if p := findLibfaketime(); p != "" {
		return p, nil
	}
	return "", fmt.Errorf("%w: install it with `make deps` or `%s`", ErrNoLibfaketime, LibfaketimeInstallCommand)
}

// shimSource is the C source of the libfaketime companion described at the top of this file.
const shimSource = `/* Companion of libfaketime for redis-server: listed after libfaketime in LD_PRELOAD. */
#define _GNU_SOURCE
#include <errno.h>
#include <semaphore.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* Hold the process until the next whole second of real time, before libfaketime records the process's start:
   the start is then a whole second, as the follow file's mtime is, and offsets can be exact. Raw system calls,
   so that libfaketime is not entered from here. */
__attribute__((constructor)) static void shim_align_start(void) {
	struct timespec now, at;
	if (syscall(SYS_clock_gettime, CLOCK_REALTIME, &now) != 0)
		return;
	at.tv_sec = now.tv_sec + 1;
	at.tv_nsec = 0;
	while (syscall(SYS_clock_nanosleep, CLOCK_REALTIME, TIMER_ABSTIME, &at, NULL) != 0 && errno == EINTR) {
	}
}

/* Symbols libfaketime looks up with dlsym(RTLD_NEXT, ...) and modern glibc lacks: a failed lookup allocates an
   error message during jemalloc's initialisation and deadlocks the process. They are real enough for a caller. */
struct shim_timeb { time_t time; unsigned short millitm; short timezone; short dstflag; };

int __ftime(struct shim_timeb *tp) {
	struct timespec ts;
	if (syscall(SYS_clock_gettime, CLOCK_REALTIME, &ts) != 0)
		return -1;
	tp->time = ts.tv_sec;
	tp->millitm = (unsigned short)(ts.tv_nsec / 1000000);
	tp->timezone = 0;
	tp->dstflag = 0;
	return 0;
}

int shim_timer_settime_22(int id, int flags, const struct itimerspec *value, struct itimerspec *old) {
	return (int)syscall(SYS_timer_settime, id, flags, value, old);
}

int shim_timer_gettime_22(int id, struct itimerspec *value) {
	return (int)syscall(SYS_timer_gettime, id, value);
}

__asm__(".symver shim_timer_settime_22,timer_settime@GLIBC_2.2");
__asm__(".symver shim_timer_gettime_22,timer_gettime@GLIBC_2.2");

/* libfaketime's shared-memory mode (FAKETIME_SHARED) is not used: a failing sem_open keeps it off. */
sem_t *sem_open(const char *name, int oflag, ...) {
	(void)name;
	(void)oflag;
	errno = ENOSYS;
	return SEM_FAILED;
}
`

// shimVersionScript declares the GLIBC_2.2 version node the timer symbols are exported under.
const shimVersionScript = "GLIBC_2.2 { global: timer_settime; timer_gettime; };\n"

// shimMu serialises builds of the shim within one process.
var shimMu sync.Mutex

// ShimCacheDir is where the built shim is kept: $XDG_CACHE_HOME/redlock-harness or ~/.cache/redlock-harness,
// or a directory under the system temp directory when neither can be found.
func ShimCacheDir() string {
	if d, err := os.UserCacheDir(); err == nil && d != "" {
		return filepath.Join(d, "redlock-harness")
	}
	return filepath.Join(os.TempDir(), "redlock-harness-cache")
}

// ErrNoShim means the faketime shim has not been built on this machine: provisioning builds it (`make deps`, or
// `redlock-harness setup`), never a run.
var ErrNoShim = errors.New("the faketime shim is not built on this machine: run `make deps` (or `redlock-harness setup`)")

// shimFile is where BuildFakeTimeShim puts the shim and FakeTimeShim looks for it: in ShimCacheDir, under a name
// derived from the source's hash, so that a changed source needs a new build and an unchanged one is built once
// per machine.
func shimFile() string {
	sum := sha256.Sum256([]byte(shimSource + "\x00" + shimVersionScript))
	return filepath.Join(ShimCacheDir(), "faketime-shim-"+hex.EncodeToString(sum[:8])+".so")
}

// FakeTimeShim returns the path of the shim shared object that libfaketime needs beside it to run redis-server
// (see the top of this file), or ErrNoShim when it has not been built: library code compiles nothing at run time.
// A docker backend copies the file it returns into its image (the image carries the host's glibc, so the object
// fits).
func FakeTimeShim() (string, error) {
	out := shimFile()
	if _, err := os.Stat(out); err != nil {
		return "", fmt.Errorf("%w (looked for %s)", ErrNoShim, out)
	}
	return out, nil
}

// BuildFakeTimeShim builds the shim with the system C compiler ($CC, cc or gcc) where FakeTimeShim finds it,
// unless it is there already, and returns its path. It is provisioning: `make deps` calls it through
// `redlock-harness setup`.
func BuildFakeTimeShim() (string, error) {
	shimMu.Lock()
	defer shimMu.Unlock()
	out := shimFile()
	if _, err := os.Stat(out); err == nil {
		return out, nil
	}
	cc, err := findCC()
	if err != nil {
		return "", err
	}
	dir := filepath.Dir(out)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("faketime shim: %w", err)
	}
	tmp, err := os.MkdirTemp(dir, "build-")
	if err != nil {
		return "", fmt.Errorf("faketime shim: %w", err)
	}
	defer os.RemoveAll(tmp)
	src, script, obj := filepath.Join(tmp, "shim.c"), filepath.Join(tmp, "shim.map"), filepath.Join(tmp, "shim.so")
	if err := os.WriteFile(src, []byte(shimSource), 0o644); err != nil {
		return "", err
	}
	if err := os.WriteFile(script, []byte(shimVersionScript), 0o644); err != nil {
		return "", err
	}
	cmd := exec.Command(cc, "-shared", "-fPIC", "-O2", "-o", obj, src, "-Wl,--version-script="+script)
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("faketime shim: %s failed: %v\n%s", strings.Join(cmd.Args, " "), err, b)
	}
	// Rename is atomic: a concurrent build by another process leaves one whole file either way.
	if err := os.Rename(obj, out); err != nil {
		return "", fmt.Errorf("faketime shim: %w", err)
	}
	return out, nil
}

func findCC() (string, error) {
	cands := []string{"cc", "gcc", "clang"}
	if env := os.Getenv("CC"); env != "" {
		cands = append([]string{env}, cands...)
	}
	for _, c := range cands {
		if p, err := exec.LookPath(c); err == nil {
			return p, nil
		}
	}
	return "", errors.New("faketime shim: no C compiler (cc, gcc or clang) on PATH: install one with `sudo apt-get install -y gcc`")
}

// FakeTimeEnv returns the environment variables that run a process under libfaketime with its wall clock
// following followFile, at rate times the speed of real time (0 or 1: real time's). libfaketime, shim and
// followFile are paths as the process sees them (inside a container, the paths where the image and the bind mount
// put them). Append them to the process's environment.
func FakeTimeEnv(libfaketime, shim, followFile string, rate float64) []string {
	faketime := "%"
	if rate > 0 && rate != 1 {
		// "% x1.01": follow the file, and let time since the process's start run 1.01 times as fast.
		faketime = "% x" + strconv.FormatFloat(rate, 'f', -1, 64)
	}
	return []string{
		"LD_PRELOAD=" + libfaketime + ":" + shim,
		"FAKETIME=" + faketime,
		"FAKETIME_FOLLOW_FILE=" + followFile,
		"FAKETIME_NO_CACHE=1",
		"FAKETIME_DONT_RESET=1",
		"FAKETIME_DONT_FAKE_MONOTONIC=1",
	}
}

// FakeClock is the wall clock of one node process running under libfaketime (FakeTimeEnv): it keeps the node's
// offset from real time and writes the follow file so that the node sees real time + offset. The offset
// outlives the process: after a restart, Prepare and Calibrate give the new process the same offset.
//
// Offsets are whole seconds (the follow file's mtime is read in seconds).
type FakeClock struct {
	// File is the follow file, as the harness reaches it.
	File string
	// Rate is how fast the node's clock runs against real time (1.01: one percent fast; 0 means 1), from each
	// start of its process. Offsets are exact at Calibrate; a rate makes the clock drift from there.
	Rate float64

	mu     sync.Mutex
	start  time.Time // the running process's start as libfaketime counts it, a whole second
	offset time.Duration
}

// clockRate is the rate of a node's clock: 1 without a fake clock or a rate of its own.
func clockRate(c *FakeClock) float64 {
	if c == nil || c.Rate <= 0 {
		return 1
	}
	return c.Rate
}

// NewFakeClock creates the follow file (and its directory) with offset 0.
func NewFakeClock(file string) (*FakeClock, error) {
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		return nil, err
	}
	c := &FakeClock{File: file}
	return c, c.Prepare()
}

// Offset returns the offset in force.
func (c *FakeClock) Offset() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.offset
}

// Prepare readies the follow file for a process about to start: the shim will hold the process until the next
// whole second, so the file's mtime is set to that second plus the offset. Call Calibrate once the process
// answers, which corrects the guess if the start fell on a later second.
func (c *FakeClock) Prepare() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.start = time.Now().Truncate(time.Second).Add(time.Second)
	return c.write()
}

func (c *FakeClock) write() error {
	t := c.start.Add(c.offset)
	return os.Chtimes(c.File, t, t)
}

// SetOffset moves the node's wall clock to real time + offset from now on; 0 puts it back on real time.
func (c *FakeClock) SetOffset(offset time.Duration) error {
	if offset%time.Second != 0 {
		return fmt.Errorf("clock offset %s is not a whole number of seconds", offset)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset = offset
	return c.write()
}

// Skew measures how far the node's wall clock (its TIME) is from real time + offset, from the best of a few
// round trips: near zero when the clock does what it is told.
func (c *FakeClock) Skew(ctx context.Context, addr string) (time.Duration, error) {
	c.mu.Lock()
	off := c.offset
	c.mu.Unlock()
	d, _, err := nodeTimeMinusReal(ctx, addr)
	return d - off, err
}

// Calibrate learns the running process's start from its TIME and rewrites the follow file so that the node sees
// real time + offset. It fails when the start is not on a whole second, which means the process does not run
// with the shim (or libfaketime) as FakeTimeEnv sets them up.
func (c *FakeClock) Calibrate(ctx context.Context, addr string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	st, err := os.Stat(c.File)
	if err != nil {
		return err
	}
	mtime := time.Unix(st.ModTime().Unix(), 0)
	// node time = mtime + (now − start), so start = mtime − (node time − now).
	diff, rtt, err := nodeTimeMinusReal(ctx, addr)
	if err != nil {
		return fmt.Errorf("fake clock: %w", err)
	}
	start := mtime.Add(-diff)
	whole := start.Round(time.Second)
	if miss := start.Sub(whole).Abs(); miss > 150*time.Millisecond+rtt/2 {
		return fmt.Errorf("fake clock: the node at %s did not start on a whole second (off by %s): is it running under libfaketime with the shim?", addr, miss)
	}
	c.start = whole
	return c.write()
}

// nodeTimeMinusReal returns the node's TIME minus real time, from the round trip with the smallest latency of a
// few, and that latency.
func nodeTimeMinusReal(ctx context.Context, addr string) (time.Duration, time.Duration, error) {
	cl := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second})
	defer cl.Close()
	if err := cl.Ping(ctx).Err(); err != nil {
		return 0, 0, err
	}
	best, bestRTT := time.Duration(0), time.Duration(-1)
	for i := 0; i < 5; i++ {
		t1 := time.Now()
		nt, err := cl.Time(ctx).Result()
		t2 := time.Now()
		if err != nil {
			return 0, 0, err
		}
		rtt := t2.Sub(t1)
		if bestRTT < 0 || rtt < bestRTT {
			mid := t1.Add(rtt / 2)
			best, bestRTT = nt.Sub(mid), rtt
		}
	}
	return best, bestRTT, nil
}
