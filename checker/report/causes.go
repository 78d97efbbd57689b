package report

// explain accounts for a cause in general terms, for a violation the caller did not explain itself; for a lease
// outlived it names the holder that wrote late when the history says which.
func explain(cause string, parts []partView) string {
	switch cause {
	case "lease-outlived":
		who := "A holder"
		for _, p := range parts {
			if p.Late {
				who = p.Role + " (" + p.Worker + ")"
				break
			}
		}
		return who + " wrote after its own ValidUntil: its lease had run out and the lock rightly went to the other " +
			"holder, whose increment the late write overwrote. A client-side failure (a pause, a stall, a careless " +
			"check) that only fencing tokens enforced by the resource prevent."
	case "granted-twice":
		return "When the second holder read, both believed their leases valid: the lock service granted one lock to " +
			"two clients at once, which no care on the client side can prevent."
	case "foreign-delete":
		return "The servers' record shows a client that did not hold the lock deleting, overwriting or renewing it: the " +
			"holder lost its lock to another client's command, not to time. A client-side bug (a release or a renewal " +
			"that checks no owner) that no care by the holder can prevent."
	case "self-delete":
		return "The servers' record shows the holder's own DEL removing the lock it held, before it had released it: " +
			"a release it sent earlier with the same value (an earlier failed attempt's, or an earlier acquisition's) " +
			"reached the node late and deleted what it had won since. A lock that keeps one random value across its " +
			"retries, or across its acquisitions, cannot tell the two apart."
	case "belief-outlived":
		return "The holder's key expired on the servers while the holder still believed its lease valid: its belief " +
			"outlived the lock (a renewal that failed silently, a validity over-stated). Judged by the clients' beliefs " +
			"alone this looks like a lock granted twice."
	case "node-forgot":
		return "A node restarted empty, or a replica without the lock was promoted in its place: the lock vanished from " +
			"a node the holder's majority counted on, and the next client took that node. The lock service failed."
	case "early-expiry":
		return "A node expired the key well before its TTL: its clock ran ahead, which the lock's safety assumes " +
			"cannot happen. The lock service failed."
	case "majority-overlap":
		return "Each holder held the key on a set of nodes counted as a majority, and the two sets share no node: " +
			"the lock service granted one lock to two clients at once."
	case "unexplained":
		return "The history lacks the validity figures needed to tell whether the lock was granted twice or a holder " +
			"outlived its lease."
	case "lost-update":
		return "No order of the critical sections explains the values read and written: an increment of the counter was lost."
	case "stale-fence":
		return "The resource enforced fencing tokens and still accepted a write whose token was lower than one it had already seen."
	}
	return ""
}

func classOf(cause string) string {
	if _, ok := causeSide[cause]; ok {
		return cause
	}
	return "other"
}

// noRecord is what a violation says where its cause would be read from the servers' record, when the run has none.
const noRecord = "no node record: causes inferred from the clients' beliefs only"

// recordNote says why a violation has no story from the servers' record: there is no record, the checker did not
// read it, or it does not show how the first holder lost the lock. Empty when the violation has a story.
func recordNote(v Violation, haveRecord bool) string {
	switch {
	case v.Story != "":
		return ""
	case v.BeliefCause != "":
		return "the node record does not show how the first holder lost the lock: cause inferred from the clients' beliefs"
	case !haveRecord:
		return noRecord
	}
	return "cause inferred from the clients' beliefs only: the checker did not read the node record"
}

// causeSide says in a few words whose fault each cause is.
var causeSide = map[string]string{
	"lease-outlived": "client-side cause",
	"granted-twice":  "the lock service failed",
	// Causes read from the servers' own record.
	"foreign-delete":   "another client removed or renewed the lock",
	"self-delete":      "its own late release removed the lock",
	"belief-outlived":  "the holder's belief outlived its key",
	"node-forgot":      "a node lost the lock",
	"early-expiry":     "a node's clock ran ahead",
	"majority-overlap": "two majorities that share no node",
	"unexplained":      "validity figures missing",
	"lost-update":      "found by the linearizability check",
	"stale-fence":      "the resource accepted a stale token",
}
