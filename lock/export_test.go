package lock

// WatchdogDone returns the channel a watchdog lease closes when its goroutine has returned, nil for other leases:
// tests wait on it instead of guessing how long a renewal takes to fail.
func WatchdogDone(l Lease) <-chan struct{} {
	switch s := l.(type) {
	case *luaWatchdogLease:
		return s.done
	case *luaWatchdogCancelLease:
		return s.done
	}
	return nil
}

// RedsyncTimeoutFactor exposes the NodeTimeout → redsync timeout factor conversion.
var RedsyncTimeoutFactor = redsyncTimeoutFactor
