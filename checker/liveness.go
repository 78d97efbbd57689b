package checker

import (
	"slices"
	"time"

	"github.com/redlock-harness/redlock-harness/history"
)

// Liveness is what the run achieved, not a verdict: a lock that never grants anything is trivially safe, so the
// safety verdict is only worth as much as the work behind it. Figures are given for the whole history and split
// inside and outside the fault windows, to show what each fault cost in availability.
type Liveness struct {
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

// MeasureLiveness computes the liveness figures of a history.
func MeasureLiveness(h *history.History) Liveness {
	return measureLiveness(buildIndex(h))
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
		if o.orphan {
			continue
		}
		for _, f := range []*LivenessFigures{&l.All, where(o.start)} {
			f.Acquires.Tried++
			switch o.out {
			case outOK:
				f.Acquires.Granted++
			case outFail:
				f.Acquires.Refused++
			default:
				f.Acquires.Indeterminate++
			}
		}
		if o.out == outOK {
			d := o.end - o.start
			latAll = append(latAll, d)
			if u.contains(o.start) {
				latIn = append(latIn, d)
			} else {
				latOut = append(latOut, d)
			}
		}
	}
	for i := range ix.cs {
		o := &ix.cs[i]
		t := o.end
		if o.out == outPending {
			t = o.start
		}
		for _, f := range []*LivenessFigures{&l.All, where(t)} {
			if !o.orphan {
				f.CS.Started++
			}
			switch {
			case o.out == outOK:
				f.CS.Written++
			case o.out == outFail && o.reason == history.ReasonFenced:
				f.CS.Fenced++
			case o.out == outFail:
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
