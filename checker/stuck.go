package checker

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/redlock-harness/redlock-harness/history"
)

// The liveness verdicts, the values of Liveness.Verdict.
const (
	// LivenessOK: no key went StuckTTLs fault-free TTLs without a grant while workers kept asking for it.
	LivenessOK = "ok"
	// LivenessStuck: at least one key did; Liveness.Stuck names each one.
	LivenessStuck = "stuck"
	// LivenessUnknown: keys went that long without a grant, but the run cannot blame the lock (Liveness.Doubt
	// says why), so it neither clears the lock nor calls it stuck.
	LivenessUnknown = "unknown"
)

// Distrust turns a stuck verdict into LivenessUnknown, for reason: the caller knows the stall may be its own.
func (l *Liveness) Distrust(reason string) {
	if l.Verdict == LivenessStuck {
		l.Verdict, l.Doubt = LivenessUnknown, reason
	}
}

// StuckTTLs is the default of Options.StuckTTLs: how many TTLs of fault-free time a key may go without a grant,
// while workers keep asking for it, before it is stuck. A key whose holder vanished comes free within one TTL
// (that is what the TTL is for); add the retry backoff (capped at TTL/4), an acquire call that waits up to two
// TTLs for its answer and a holder that keeps the lock a while, and a healthy key is granted again within two or
// three TTLs. Five leaves room for all of that and still names a key that never expires within seconds. A
// workload whose holders keep a key for longer than that on purpose (renewing it) needs a larger value.
const StuckTTLs = 5

// assumedTTL is the lock TTL the liveness verdict uses when the history's header does not record one: the lock
// package's default.
const assumedTTL = time.Second

// progressFaults keeps the fault windows that can keep every client from a key: network and node faults. A
// fault aimed at workers only (a client stall, a client crash: its targets are all workers) stops those workers,
// not the others; what it costs them, the lock's TTL is there to bound, so its window is not an excuse for a key
// nobody can take.
func progressFaults(ws []FaultWindow) []FaultWindow {
	var out []FaultWindow
	for _, w := range ws {
		if len(w.Targets) > 0 && !slices.ContainsFunc(w.Targets, func(t string) bool { return !workerName(t) }) {
			continue // every target is a worker
		}
		out = append(out, w)
	}
	return out
}

// workerName reports whether s names a worker (g1w3), as fault targets do for client faults.
func workerName(s string) bool {
	g, w, ok := strings.Cut(s, "w")
	if !ok || len(g) < 2 || g[0] != 'g' || w == "" {
		return false
	}
	for _, r := range g[1:] + w {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// reasonClientCrash is the Reason of an operation its worker died in (the client-crash fault, at any point of the
// lock's protocol).
const reasonClientCrash = history.ReasonClientCrash

// StuckKey is a key nobody could take, as the liveness verdict reports it: its longest stuck stretch and what
// became of whoever took it last, so that a person knows where to look (a holder that crashed, an acquire that
// may have set the key and never set its expiry).
type StuckKey struct {
	Key string `json:"key"`
	// Since is when the key was last taken, or may have been: the completion of its last grant, or of an
	// indeterminate acquire after that grant which may have set the key (see Liveness); the history's start when
	// nothing ever took it.
	Since time.Duration `json:"since_ns"`
	// Until is the next grant of the key, or the end of the history.
	Until time.Duration `json:"until_ns"`
	// FaultFree is the part of Since–Until outside every fault window and every stretch an indeterminate acquire
	// of the key may have held it (see Liveness). The rule judged the whole gap from the
	// last grant, so when Since is a later indeterminate acquire this may fall short of StuckTTLs TTLs.
	FaultFree time.Duration `json:"fault_free_ns"`
	// Attempts counts the acquires of the key invoked from Since to Until.
	Attempts int `json:"attempts"`
	// Last says who took the key last and what became of them, e.g. "g1w4 crashed holding the lock" or
	// "last granted to g1w4 at 3.10s".
	Last string `json:"last"`
}

// String is the stuck key in one line, e.g. "k2 stuck since 3.10s: g1w4 crashed holding the lock".
func (s StuckKey) String() string {
	return fmt.Sprintf("%s stuck since %s: %s", s.Key, fmtDur(s.Since), s.Last)
}

// Reason says in one sentence what the liveness verdict found and the bar it applied, e.g. "1 key nobody could
// take for 5 fault-free TTLs (TTL 1s) while workers kept trying": Text prints it after the verdict and the HTML
// report under the stuck keys, so that a reader knows what "stuck" means without the godoc.
func (l Liveness) Reason() string {
	if l.Verdict == "" {
		return ""
	}
	bar := fmt.Sprintf("%d fault-free TTLs (TTL %s)", l.StuckTTLs, l.TTL)
	switch l.Verdict {
	case LivenessStuck:
		return fmt.Sprintf("%s nobody could take for %s while workers kept trying", plural(len(l.Stuck), "key", "keys"), bar)
	case LivenessUnknown:
		return fmt.Sprintf("%s nobody could take for %s while workers kept trying, but %s", plural(len(l.Stuck), "key", "keys"), bar, l.Doubt)
	}
	return fmt.Sprintf("no key went %s without a grant while workers kept trying", bar)
}

// judgeLiveness applies the liveness rule (see Liveness) to every key of ix and fills l's verdict. It returns a
// note for Result.Notes when the TTL had to be assumed.
func judgeLiveness(ix *index, stuckTTLs int, l *Liveness) (note string) {
	if stuckTTLs <= 0 {
		stuckTTLs = StuckTTLs
	}
	ttl, recorded := lockTTL(ix.header)
	if !recorded && len(ix.acquires) > 0 {
		note = fmt.Sprintf("the history's header records no lock TTL: the liveness verdict assumed %s", ttl)
	}
	l.TTL, l.StuckTTLs, l.Verdict, l.Stuck = ttl, stuckTTLs, LivenessOK, nil
	j := &stuckJudge{ix: ix, ttl: int64(ttl), minFree: int64(stuckTTLs) * int64(ttl), faults: unionOf(progressFaults(ix.faults))}
	byKey := acquiresByKey(ix.acquires)
	keys := make([]string, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if s, stuck := j.key(k, byKey[k]); stuck {
			l.Stuck = append(l.Stuck, s)
		}
	}
	if len(l.Stuck) > 0 {
		l.Verdict = LivenessStuck
	}
	return note
}

// lockTTL reads the lock's TTL from the run's configuration in the header ("lock": {"ttl": nanoseconds}); false
// when it is not there, and then the TTL assumed.
func lockTTL(h history.Header) (time.Duration, bool) {
	var cfg struct {
		Lock struct {
			TTL json.RawMessage `json:"ttl"`
		} `json:"lock"`
	}
	if len(h.Config) == 0 || json.Unmarshal(h.Config, &cfg) != nil || len(cfg.Lock.TTL) == 0 {
		return assumedTTL, false
	}
	var ns float64
	var s string
	switch {
	case json.Unmarshal(cfg.Lock.TTL, &ns) == nil && ns >= 1:
		return time.Duration(ns), true
	case json.Unmarshal(cfg.Lock.TTL, &s) == nil:
		if d, err := time.ParseDuration(s); err == nil && d > 0 {
			return d, true
		}
	}
	return assumedTTL, false
}

// keyAcquires are one key's acquires as the liveness rule reads them.
type keyAcquires struct {
	grants    []*history.Op // completed ok, by completion
	attempts  []*history.Op // every invocation (orphan completions have none), by invocation
	uncertain []*history.Op // indeterminate (info, or no completion), by takenAt
}

// acquiresByKey sorts the acquires of each key for the liveness rule.
func acquiresByKey(acquires []history.Op) map[string]*keyAcquires {
	m := map[string]*keyAcquires{}
	for i := range acquires {
		o := &acquires[i]
		k := m[o.Key]
		if k == nil {
			k = &keyAcquires{}
			m[o.Key] = k
		}
		switch o.Outcome {
		case history.OutOK:
			k.grants = append(k.grants, o)
		case history.OutInfo, history.OutPending:
			k.uncertain = append(k.uncertain, o)
		}
		if !o.Orphan {
			k.attempts = append(k.attempts, o)
		}
	}
	by := func(t func(*history.Op) int64) func(a, b *history.Op) int {
		return func(a, b *history.Op) int { return cmp.Or(cmpInt(t(a), t(b)), cmpInt(a.ID, b.ID)) }
	}
	for _, k := range m {
		slices.SortFunc(k.grants, by(func(o *history.Op) int64 { return o.End }))
		slices.SortFunc(k.attempts, by(func(o *history.Op) int64 { return o.Start }))
		slices.SortFunc(k.uncertain, by(takenAt))
	}
	return m
}

// takenAt is when an acquire took its key, or may have: its completion, or its invocation when it has none.
func takenAt(o *history.Op) int64 {
	if o.Outcome == history.OutPending {
		return o.Start
	}
	return o.End
}

// stuckJudge applies the liveness rule to one history.
type stuckJudge struct {
	ix      *index
	ttl     int64
	minFree int64 // StuckTTLs × TTL
	faults  faultUnion
	// excused is faults plus, for the key being judged, the stretches its indeterminate acquires may have held
	// it (see excusedFor).
	excused faultUnion
	workers map[string][]*history.Op // each worker's acquires and critical sections by invocation, built on first need
}

// key judges every gap between successive grants of one key, the leading and the trailing one included, and
// returns the longest stuck one.
func (j *stuckJudge) key(name string, k *keyAcquires) (StuckKey, bool) {
	var best StuckKey
	found := false
	from := j.ix.first
	var opened *history.Op // the grant that opened the gap; nil before the first
	j.excused = j.excusedFor(k)
	for i := 0; i <= len(k.grants); i++ {
		to, final := j.ix.last, i == len(k.grants)
		if !final {
			to = k.grants[i].End
		}
		if s, stuck := j.gap(name, k, opened, from, to, final); stuck && (!found || s.FaultFree > best.FaultFree) {
			best, found = s, true
		}
		if !final {
			opened, from = k.grants[i], k.grants[i].End
		}
	}
	return best, found
}

// excusedFor is the time no one can blame the lock for a key nobody took: the fault windows, and each stretch
// during which a client frozen by a failpoint inside its acquire may have held the key: an indeterminate acquire
// whose worker a stall went off on, and which lived on, from its invocation to one TTL after it ended (it won the
// lock, froze, and its acquire then failed: the key was held meanwhile, then released or let run out). A key
// such an acquire left set for good (a PEXPIRE that never arrived) is still stuck after that; an acquire whose
// worker died with it excuses nothing, since it may have left the key set for good; and nor does an acquire no
// fault stopped (the lock's own failed tries, whose partial locks keep every contender out, are its fault).
func (j *stuckJudge) excusedFor(k *keyAcquires) faultUnion {
	var ws []FaultWindow
	for _, u := range k.uncertain {
		if u.Outcome == history.OutInfo && j.firedWithin(u) && !j.fate(u).vanished() {
			ws = append(ws, FaultWindow{From: time.Duration(u.Start), To: time.Duration(u.End + j.ttl)})
		}
	}
	if len(ws) == 0 {
		return j.faults
	}
	for _, iv := range j.faults {
		ws = append(ws, FaultWindow{From: time.Duration(iv[0]), To: time.Duration(iv[1])})
	}
	return unionOf(ws)
}

// firedWithin says whether a failpoint went off on a's worker while a ran.
func (j *stuckJudge) firedWithin(a *history.Op) bool {
	return slices.ContainsFunc(j.ix.fired[a.Worker], func(t int64) bool { return t >= a.Start && t <= a.End })
}

// gap judges the gap from to to (see Liveness) and, when it is stuck, reports it from the acquire it blames.
func (j *stuckJudge) gap(name string, k *keyAcquires, opened *history.Op, from, to int64, final bool) (StuckKey, bool) {
	if to-from < j.minFree || to-from-j.excused.within(from, to) < j.minFree {
		return StuckKey{}, false
	}
	if !j.trying(attemptsIn(k.attempts, from, to, final), to) {
		return StuckKey{}, false
	}
	blamed := j.blame(k, opened, from, to)
	since := from
	if blamed != nil {
		since = takenAt(blamed)
	}
	return StuckKey{Key: name, Since: time.Duration(since), Until: time.Duration(to),
		FaultFree: time.Duration(to - since - j.excused.within(since, to)),
		Attempts:  len(attemptsIn(k.attempts, since, to, final)), Last: j.describe(blamed)}, true
}

// attemptsIn are the attempts invoked in [from, to), or [from, to] for the history's last gap.
func attemptsIn(attempts []*history.Op, from, to int64, final bool) []*history.Op {
	lo := sort.Search(len(attempts), func(i int) bool { return attempts[i].Start >= from })
	hi := sort.Search(len(attempts), func(i int) bool {
		return attempts[i].Start > to || (!final && attempts[i].Start == to)
	})
	return attempts[lo:max(lo, hi)]
}

// trying says whether workers were still trying at the end of a gap: one of its attempts was invoked, or was
// still waiting for its answer, in the gap's last TTL.
func (j *stuckJudge) trying(attempts []*history.Op, to int64) bool {
	for _, o := range slices.Backward(attempts) {
		if max(o.Start, o.End) >= to-j.ttl {
			return true
		}
	}
	return false
}

// blame picks the acquire that most likely left the key behind in a stuck gap: the first one whose worker is
// known to have crashed or to have been cut off after it (the grant that opened the gap, or an indeterminate
// acquire inside it); else the first indeterminate acquire inside the gap, which may have set the key without
// being granted; else the grant that opened the gap. Nil when nothing ever took the key.
func (j *stuckJudge) blame(k *keyAcquires, opened *history.Op, from, to int64) *history.Op {
	lo := sort.Search(len(k.uncertain), func(i int) bool { return takenAt(k.uncertain[i]) >= from })
	hi := sort.Search(len(k.uncertain), func(i int) bool { return takenAt(k.uncertain[i]) > to })
	inside := k.uncertain[lo:max(lo, hi)]
	for _, c := range slices.Concat([]*history.Op{opened}, inside) {
		if c != nil && j.fate(c).vanished() {
			return c
		}
	}
	if len(inside) > 0 {
		return inside[0]
	}
	return opened
}

// fate is what became of the worker of an acquire, as far as its next operations tell.
type fate struct {
	crash *history.Op // the operation its worker died in (Reason client-crash)
	cut   *history.Op // an operation of its worker that never completed
}

func (f fate) vanished() bool { return f.crash != nil || f.cut != nil }

// fate reads the operations of a's worker from a up to its next acquire (where the worker has moved on): a crash
// recorded there, or an operation that never completed, tells that the worker died with whatever a took.
func (j *stuckJudge) fate(a *history.Op) fate {
	ops := j.workerOps()[a.Worker]
	i, _ := slices.BinarySearchFunc(ops, a, func(o, t *history.Op) int { return cmp.Or(cmpInt(o.Start, t.Start), cmpInt(o.ID, t.ID)) })
	var f fate
	for _, o := range ops[i:] {
		if o != a && o.Name == history.OpAcquire {
			break
		}
		if o.Reason == reasonClientCrash {
			return fate{crash: o}
		}
		if o.Outcome == history.OutPending && !o.Orphan && f.cut == nil {
			f.cut = o
		}
	}
	return f
}

// workerOps indexes each worker's acquires, critical sections and the extends and releases that ended it, by
// invocation, once, when the first stuck gap needs them.
func (j *stuckJudge) workerOps() map[string][]*history.Op {
	if j.workers != nil {
		return j.workers
	}
	j.workers = map[string][]*history.Op{}
	for _, list := range [][]history.Op{j.ix.acquires, j.ix.cs, j.ix.ends} {
		for i := range list {
			o := &list[i]
			j.workers[o.Worker] = append(j.workers[o.Worker], o)
		}
	}
	for _, ops := range j.workers {
		slices.SortFunc(ops, func(a, b *history.Op) int { return cmp.Or(cmpInt(a.Start, b.Start), cmpInt(a.ID, b.ID)) })
	}
	return j.workers
}

// describe is StuckKey.Last: who took the key last (a, nil when nobody did) and what became of them.
func (j *stuckJudge) describe(a *history.Op) string {
	if a == nil {
		return "never granted"
	}
	f := j.fate(a)
	at := fmtDur(time.Duration(takenAt(a)))
	switch {
	case a.Outcome == history.OutOK && f.crash != nil:
		return crashSentence(a.Worker, f.crash)
	case a.Outcome == history.OutOK && f.cut != nil:
		return fmt.Sprintf("last granted to %s at %s, whose %s at %s never completed", a.Worker, at, opNoun(f.cut.Name), fmtDur(time.Duration(f.cut.Start)))
	case a.Outcome == history.OutOK:
		return fmt.Sprintf("last granted to %s at %s", a.Worker, at)
	case f.crash != nil:
		return fmt.Sprintf("%s, leaving its acquire at %s indeterminate", crashSentence(a.Worker, f.crash), at)
	case a.Outcome == history.OutPending:
		return fmt.Sprintf("%s's acquire at %s never completed", a.Worker, at)
	}
	s := fmt.Sprintf("%s's acquire at %s was indeterminate", a.Worker, at)
	if a.Error != "" {
		s += ": " + a.Error
	}
	return s
}

// crashSentence says how a worker crashed, from the crash's error text when it has one: "g1w4 crashed
// between-setnx-and-expire", "g1w4 crashed holding the lock".
func crashSentence(worker string, crash *history.Op) string {
	how := strings.TrimPrefix(crash.Error, "worker ")
	switch {
	case how == "":
		how = "crashed"
	case !strings.HasPrefix(how, "crashed"):
		how = "crashed: " + how
	}
	return worker + " " + how
}

func opNoun(name string) string {
	if name == history.OpCS {
		return "critical section"
	}
	return name
}
