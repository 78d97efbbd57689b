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

// causeSide says in a few words whose fault each cause is.
var causeSide = map[string]string{
	"lease-outlived": "client-side cause",
	"granted-twice":  "the lock service failed",
	"unexplained":    "validity figures missing",
	"lost-update":    "found by the linearizability check",
	"stale-fence":    "the resource accepted a stale token",
}
