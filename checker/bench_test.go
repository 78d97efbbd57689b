package checker

import (
	"sync"
	"testing"
	"time"
)

// The histories are built once: building a million events takes longer than judging them.
var (
	million = sync.OnceValue(func() synthResult {
		return synthetic(synthConfig{Cycles: 1_000_000 / 6, Keys: 4, OverlapEvery: 10000, FaultEvery: 5000})
	})
	hundredK = sync.OnceValue(func() synthResult {
		return synthetic(synthConfig{Cycles: 100_000, Keys: 1, InfoEvery: 1000})
	})
	runLike = sync.OnceValue(func() synthResult {
		return synthetic(synthConfig{Cycles: 100_000, Keys: 2, InfoEvery: 5000, OverlapEvery: 20000, FaultEvery: 2000})
	})
)

// BenchmarkOverlap1MEvents measures the overlap sweep on a million events (pairing, sorting and sweeping
// included). Target: at least 1M events/s.
func BenchmarkOverlap1MEvents(b *testing.B) {
	s := million()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		r := CheckOverlap(s.h)
		if r.Count != s.overlaps {
			b.Fatalf("%d overlaps found, %d planted", r.Count, s.overlaps)
		}
	}
	b.ReportMetric(float64(len(s.h.Events))*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkRegister100kSections measures porcupine on 100k critical sections of one key (the worst case for
// partitioning: only the segments split it). Target: under 10 s.
func BenchmarkRegister100kSections(b *testing.B) {
	s := hundredK()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		r := CheckRegister(s.h, time.Minute)
		if r.Verdict != Valid {
			b.Fatalf("register %s: %s", r.Verdict, r.Reason)
		}
	}
	b.ReportMetric(100_000*float64(b.N)/b.Elapsed().Seconds(), "sections/s")
}

// BenchmarkCheck measures the whole judgement of a run-like history: 600k events, two keys, faults, crashed
// sections and planted overlaps.
func BenchmarkCheck(b *testing.B) {
	s := runLike()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		r := Check(s.h, Options{})
		if r.Verdict != Invalid {
			b.Fatalf("verdict %s", r.Verdict)
		}
	}
	b.ReportMetric(float64(len(s.h.Events))*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkCheck1MEvents is BenchmarkCheck on the million-event history.
func BenchmarkCheck1MEvents(b *testing.B) {
	s := million()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		Check(s.h, Options{})
	}
	b.ReportMetric(float64(len(s.h.Events))*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
