package checker

import (
	"slices"
	"time"

	"github.com/redlock-harness/redlock-harness/history"
)

// Liveness is what the run achieved, and whether a key got stuck. A lock that never grants anything is trivially
// safe, so the safety verdict is only worth as much as the work behind it. Figures are given for the whole
// history and split inside and outside the fault windows, to show what each fault cost in availability.
//
// The figures cannot tell a slow lock from a dead one: a client that crashed between SETNX and PEXPIRE leaves a
// key that never expires, which nobody can take again, and the run still reads as valid (a key nobody holds is
// mutually exclusive). Verdict names such keys. For each key, look at each gap between successive grants
// (acquires that completed ok), the gap from the start of the history to the first grant and the one from the
// last grant to the end of the history included. A gap is stuck when, inside it:
//
//  1. workers kept trying: acquires of the key were invoked in it, and one was invoked, or was still waiting
//     for its answer, in the gap's last TTL. A key the workers stopped asking for is idle, not stuck; and one
//     acquire call may retry for two TTLs before it answers, so a worker blocked in one is still trying.
//  2. its time outside every fault window adds up to at least StuckTTLs TTLs (Options.StuckTTLs). A fault may
//     legitimately stop progress (a partition, a majority down), so only fault-free time counts against the lock.
//
// The TTL is the run's ("lock": {"ttl": ns} in the header's config), 1s when the header has none (Result.Notes
// says so). Only a grant ends a gap: an indeterminate acquire (info, or no completion) does not prove the key was
// taken. It may have been, though. One whose worker a stall froze inside it and which lived on (a client frozen
// after winning the lock, whose acquire then failed) may have held the key from its invocation until one TTL
// after it ended: that stretch is excused like a fault window, and a key it left set for good is still stuck
// after it. One no fault stopped excuses nothing (the lock's own failed tries, whose partial locks keep everyone
// out, are its fault), nor does one whose worker died or was cut off with it (a client that died between SETNX
// and PEXPIRE left the key set, with no expiry), so a stuck gap is reported from the acquire it blames: see
// StuckKey.
//
// Being stuck does not change the safety verdict or the exit code (a stuck lock is still mutually exclusive);
// Result.Summary and Result.Text say it beside the verdict.
type Liveness struct {
	// Verdict is LivenessOK, LivenessStuck or LivenessUnknown.
	Verdict string `json:"verdict"`
	// Doubt says why the verdict is LivenessUnknown: keys went without a grant, but for a reason that may not be
	// the lock's (the machine running the harness was overloaded). Stuck still lists them.
	Doubt string `json:"doubt,omitempty"`
	// Stuck lists each stuck key, sorted by key, with its longest stuck gap.
	Stuck []StuckKey `json:"stuck,omitempty"`
	// TTL is the lock TTL the verdict used, and StuckTTLs the number of fault-free TTLs that make a gap stuck.
	TTL       time.Duration `json:"ttl_ns"`
	StuckTTLs int           `json:"stuck_ttls"`

	All           LivenessFigures `json:"all"`
	InFaults      LivenessFigures `json:"in_faults"`
	OutsideFaults LivenessFigures `json:"outside_faults"`
}

// LivenessFigures counts one stretch of time. Acquires are placed by their invocation, critical sections by their
// completion (by their read when they have none).
type LivenessFigures struct {
	// Duration is the stretch's length: the history's span, or the part of it inside or outside faults.
	Duration time.Duration `json:"duration_ns"`
	Acquires AcquireCounts `json:"acquires"`
	// AcquireP50 and AcquireP99 are the latencies of granted acquires (invocation to completion).
	AcquireP50 time.Duration `json:"acquire_p50_ns"`
	AcquireP99 time.Duration `json:"acquire_p99_ns"`
	CS         CSCounts      `json:"critical_sections"`
	// CSPerSec is the rate of critical sections that wrote.
	CSPerSec float64 `json:"cs_per_sec"`
}

// AcquireCounts splits lock acquisitions by outcome.
type AcquireCounts struct {
	// Tried counts invocations; Granted those that completed ok.
	Tried   int `json:"tried"`
	Granted int `json:"granted"`
	// Refused: a definite failure (held by someone else, timed out without effect).
	Refused int `json:"refused"`
	// Indeterminate: info, or no completion at all.
	Indeterminate int `json:"indeterminate"`
}

// CSCounts splits critical sections by outcome.
type CSCounts struct {
	// Started counts critical sections that read the resource; Written those that wrote it.
	Started int `json:"started"`
	Written int `json:"written"`
	// Abandoned: the holder gave up the write (lease expired, lease lost, run stopped).
	Abandoned int `json:"abandoned"`
	// Fenced: the resource refused the write for a stale token.
	Fenced int `json:"fenced"`
	// Indeterminate: info, or no completion (a crash).
	Indeterminate int `json:"indeterminate"`
}

// MeasureLiveness computes the liveness figures of a history and its liveness verdict with the default
// StuckTTLs (Check also notes when the TTL had to be assumed).
func MeasureLiveness(h *history.History) Liveness {
	ix := buildIndex(h)
	l := measureLiveness(ix)
	judgeLiveness(ix, 0, &l)
	return l
}

func measureLiveness(ix *index) Liveness {
	u := unionOf(ix.faults)
	span := ix.last - ix.first
	inside := u.within(ix.first, ix.last)
	l := Liveness{}
	l.All.Duration = time.Duration(span)
	l.InFaults.Duration = time.Duration(inside)
	l.OutsideFaults.Duration = time.Duration(span - inside)
	where := func(t int64) *LivenessFigures {
		if u.contains(t) {
			return &l.InFaults
		}
		return &l.OutsideFaults
	}
	var latAll, latIn, latOut []int64
	for i := range ix.acquires {
		o := &ix.acquires[i]
		if o.Orphan {
			continue
		}
		for _, f := range []*LivenessFigures{&l.All, where(o.Start)} {
			f.Acquires.Tried++
			switch o.Outcome {
			case history.OutOK:
				f.Acquires.Granted++
			case history.OutFail:
				f.Acquires.Refused++
			default:
				f.Acquires.Indeterminate++
			}
		}
		if o.Outcome == history.OutOK {
			d := o.End - o.Start
			latAll = append(latAll, d)
			if u.contains(o.Start) {
				latIn = append(latIn, d)
			} else {
				latOut = append(latOut, d)
			}
		}
	}
	for i := range ix.cs {
		o := &ix.cs[i]
		t := o.End
		if o.Outcome == history.OutPending {
			t = o.Start
		}
		for _, f := range []*LivenessFigures{&l.All, where(t)} {
			if !o.Orphan {
				f.CS.Started++
			}
			switch {
			case o.Outcome == history.OutOK:
				f.CS.Written++
			case o.Outcome == history.OutFail && o.Reason == history.ReasonFenced:
				f.CS.Fenced++
			case o.Outcome == history.OutFail:
				f.CS.Abandoned++
			default:
				f.CS.Indeterminate++
			}
		}
	}
	for _, x := range []struct {
		f   *LivenessFigures
		lat []int64
	}{{&l.All, latAll}, {&l.InFaults, latIn}, {&l.OutsideFaults, latOut}} {
		x.f.AcquireP50 = time.Duration(percentile(x.lat, 50))
		x.f.AcquireP99 = time.Duration(percentile(x.lat, 99))
		if x.f.Duration > 0 {
			x.f.CSPerSec = float64(x.f.CS.Written) / x.f.Duration.Seconds()
		}
	}
	return l
}

// percentile is the nearest-rank percentile of xs (which it sorts), 0 when xs is empty.
func percentile(xs []int64, p int) int64 {
	if len(xs) == 0 {
		return 0
	}
	slices.Sort(xs)
	k := (p*len(xs) + 99) / 100 // ceil(p/100 · n)
	k = min(max(k, 1), len(xs))
	return xs[k-1]
}
