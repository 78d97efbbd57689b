package report

import "github.com/redlock-harness/redlock-harness/history"

// op is an invocation paired with its completion, before it is placed on a lane.
type op struct {
	id     int64
	name   string
	worker string
	key    string
	t0, t1 int64
	out    int
	// orphan: a completion whose invocation is missing, so t0 is only the completion's time.
	orphan               bool
	fence                int64
	reason               string
	errTxt               string
	valid0, valid1       int64 // validity at invocation and at completion
	hasValid0, hasValid1 bool
	read, wrote          int64
	hasRead, hasWrote    bool
}

// pairOps pairs every invocation with its completion by id, in the order of the invocations; the file's order
// does not matter. It also returns the fault events and the latest instant of the history.
func pairOps(evs []history.Event) (ops []op, faults []history.Event, end int64, orphans int) {
	invokes := 0
	for i := range evs {
		if evs[i].Ev == history.EvInvoke {
			invokes++
		}
	}
	ops = make([]op, 0, invokes)
	byID := make(map[int64]int, invokes)
	for i := range evs {
		e := &evs[i]
		end = max(end, e.T)
		switch e.Ev {
		case history.EvFault:
			faults = append(faults, *e)
		case history.EvInvoke:
			if _, dup := byID[e.ID]; dup {
				continue
			}
			o := op{id: e.ID, name: e.Op, worker: e.Worker, key: e.Key, t0: e.T, t1: e.T, out: outPending, fence: e.Fence}
			if e.ValidNS != nil {
				o.valid0, o.hasValid0 = *e.ValidNS, true
			}
			if e.Read != nil {
				o.read, o.hasRead = *e.Read, true
			}
			byID[e.ID] = len(ops)
			ops = append(ops, o)
		}
	}
	for i := range evs {
		e := &evs[i]
		var out int
		switch e.Ev {
		case history.EvOK:
			out = outOK
		case history.EvFail:
			out = outFail
		case history.EvInfo:
			out = outInfo
		default:
			continue
		}
		j, ok := byID[e.ID]
		if !ok {
			orphans++
			byID[e.ID] = len(ops)
			j = len(ops)
			ops = append(ops, op{id: e.ID, name: e.Op, worker: e.Worker, key: e.Key, t0: e.T, orphan: true})
		} else if ops[j].out != outPending {
			continue // a second completion for one id: keep the first
		}
		o := &ops[j]
		o.out, o.t1 = out, max(e.T, o.t0)
		if o.name == "" {
			o.name = e.Op
		}
		if o.worker == "" {
			o.worker = e.Worker
		}
		if o.key == "" {
			o.key = e.Key
		}
		if e.Fence != 0 {
			o.fence = e.Fence
		}
		o.reason, o.errTxt = e.Reason, e.Error
		if e.ValidNS != nil {
			o.valid1, o.hasValid1 = *e.ValidNS, true
		}
		if e.Read != nil {
			o.read, o.hasRead = *e.Read, true
		}
		if e.Wrote != nil {
			o.wrote, o.hasWrote = *e.Wrote, true
		}
	}
	// An operation still pending when the history ends lasts, as far as anyone can tell, to the end.
	for i := range ops {
		if ops[i].out == outPending {
			ops[i].t1 = max(end, ops[i].t0)
		}
	}
	return ops, faults, end, orphans
}
