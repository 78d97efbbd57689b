package lock

import "strings"

// A harness is worth what it catches. A mutant is a real strategy with exactly one planted bug, the kind of bug
// that ships in lock libraries: the harness should find each one invalid in some scenario where its healthy twin
// stays valid. The mutation score (caught / total, measured by `redlock-harness mutants`) is the harness's own
// measure of what it can see; a mutant nobody catches is a hole in the harness, or a bug no realistic fault
// exposes, and is named as such.
//
// A mutant is its twin's own code with one switch flipped (the mutation field of the twin's struct), so that it
// differs from the twin in exactly the planted bug and nothing else.

// mutation is one planted bug. The zero value is the strategy as its source writes it.
type mutation int

const (
	healthy mutation = iota
	// lua
	mutReleaseUnchecked // release with a plain DEL, whoever's lock is under the key
	mutRenewUnchecked   // renew with a plain PEXPIRE, whoever's lock is under the key
	mutRenewRevives     // renew with SET key token PX ttl: an expired lock comes back, over another holder's
	mutLeaseFromEnd     // the lease counted from the reply instead of from before the SET was sent
	mutTokenReused      // one token per client, reused for every acquisition
	// redlock
	mutValidityIgnoresElapsed // validity = TTL − drift from the end of acquisition, whatever it took
	mutDriftIgnored           // no allowance for clock drift
	mutQuorumHalf             // N/2 nodes count as a majority
	mutPartialLocksKept       // a failed attempt does not release the nodes it got
	mutNoBackoff              // retries at once, without backoff or jitter
	// lua-watchdog-cancel
	mutWatchdogStops // the watchdog stops renewing after its first renewal, and the holder goes on believing
	// fenced
	mutFenceOneNode     // the token is one node's counter
	mutFenceNoWriteBack // the highest INCR answer is the token, never written back to a majority
)

// MutantSeparator joins a mutant's twin and bug in its name: "lua~release-unchecked".
const MutantSeparator = "~"

func mutant(twin, bug, summary, seen string, fenced bool, make func() Strategy) Info {
	return Info{Name: twin + MutantSeparator + bug, Twin: twin, Summary: summary, Origin: seen, Fenced: fenced,
		Weakness: summary, Make: make}
}

// named gives a mutant its own name, so that runs, reports and the matrix keep it apart from its twin.
type named struct {
	RedisStrategy
	name string
}

func (n named) Name() string { return n.name }

// Steps implements Stepper as the twin does.
func (n named) Steps() []string {
	if s, ok := n.RedisStrategy.(Stepper); ok {
		return s.Steps()
	}
	return nil
}

func init() {
	for _, m := range []Info{
		mutant("lua", "release-unchecked", "releases with a plain DEL: a late release deletes the next holder's lock",
			"article [A]'s release; every SETNX lock whose value carries no owner", false,
			func() Strategy { return Lua{mut: mutReleaseUnchecked} }),
		mutant("lua", "renew-unchecked", "renews with a plain PEXPIRE: a late renewal extends the next holder's lock and reports success",
			"redislock and Redisson renewal bugs; a PEXPIRE without the token check", false,
			func() Strategy { return Lua{mut: mutRenewUnchecked} }),
		mutant("lua", "renew-revives", "renews with SET key token PX ttl: an expired lock comes back over the next holder's",
			"redlock-rb #36: extending a lock that had expired succeeded", false,
			func() Strategy { return Lua{mut: mutRenewRevives} }),
		mutant("lua", "lease-from-end", "counts the lease from the SET's reply instead of from before it was sent",
			"node-redlock #169/#299: lease expiry computed from the wrong instant", false,
			func() Strategy { return Lua{mut: mutLeaseFromEnd} }),
		mutant("lua", "token-reused", "one token per client, reused for every acquisition: its late release deletes its own next lock",
			"locks whose owner value is a constant or a process id (\"every owner stores 1\")", false,
			func() Strategy { return Lua{mut: mutTokenReused} }),
		mutant("redlock", "validity-ignores-elapsed", "believes in TTL − drift from the end of acquisition, however long acquiring took",
			"article [B]'s simplified Redlock; Redlock clients that skip step 3", false,
			func() Strategy { return Redlock{mut: mutValidityIgnoresElapsed} }),
		mutant("redlock", "drift-ignored", "allows no clock drift: validity = TTL − elapsed",
			"Redlock clients without a drift factor", false,
			func() Strategy { return Redlock{mut: mutDriftIgnored} }),
		mutant("redlock", "quorum-half", "counts N/2 nodes (two of five) as a majority",
			"an off-by-one in the quorum", false,
			func() Strategy { return Redlock{mut: mutQuorumHalf} }),
		mutant("redlock", "partial-locks-kept", "does not release the nodes a failed attempt got; they stay locked until they expire",
			"article [B]'s simplified Redlock; amphp/redis #61", false,
			func() Strategy { return Redlock{mut: mutPartialLocksKept} }),
		mutant("redlock", "no-backoff", "retries at once, without backoff or jitter",
			"Redlock clients that retry in a tight loop (the algorithm asks for a random delay)", false,
			func() Strategy { return Redlock{mut: mutNoBackoff} }),
		mutant("lua-watchdog-cancel", "renewal-stops", "its watchdog stops renewing after the first renewal, and the holder goes on believing",
			"Redisson #3714: renewal silently stopped after a lock was re-acquired", false,
			func() Strategy { return LuaWatchdogCancel{mut: mutWatchdogStops} }),
		mutant("fenced", "token-one-node", "draws the fencing token from one node's counter only",
			"fencing counters kept on a single Redis", true,
			func() Strategy { return Fenced{mut: mutFenceOneNode} }),
		mutant("fenced", "token-not-written-back", "takes the highest INCR answer of a majority as the token without writing it back",
			"the plain \"INCR a majority, take the max\" that the fenced strategy's comment warns about", true,
			func() Strategy { return Fenced{mut: mutFenceNoWriteBack} }),
	} {
		make := m.Make
		name := m.Name
		m.Make = func() Strategy { return named{RedisStrategy: make().(RedisStrategy), name: name} }
		registerMutant(m)
	}
}

// IsMutant reports whether name names a mutant (twin~bug).
func IsMutant(name string) bool { return strings.Contains(name, MutantSeparator) }

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
