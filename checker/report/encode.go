package report

import (
	"encoding/json"
	"strconv"
)

// blobVersion is the version of the format below; the page's script refuses a blob of another version.
const blobVersion = 2

// encodeBlob writes the timeline in the compact form the page's script reads, appended to b. It is JSON, but
// columnar: each kind of item is an object of equal-length arrays, one per field, which is a third of the size of
// an array of objects and lets the script fill typed arrays directly.
//
//	{"v":1, "end":ns, "lanes":[…], "keys":[…], "texts":[…],
//	 "acquire"|"extend"|"release": {"off","key","id","t0","d","out","fence","valid","err"},
//	 "lease": {"off","key","id","t0","d","vu","end","rel","fence","ext"},
//	 "cs":    {"off","key","id","t0","d","out","why","read","wrote","fence","vr","vw"},
//	 "faults":[…], "marks":[…], "stuck":[…]|null, "notes":[…],
//	 and with a node record: "node_record":true, "nodes":[…], "node_keys":[…], "who":[…], "node_events":[…],
//	 "node_down":[…], "hold": {"off","owner","t0","d","end","by"}, "renew": {"off","t0","d","by","hold"}}
//
// Items are sorted by lane, then start. "off" has one entry per lane plus one: lane l's items are
// [off[l], off[l+1]). "t0" is delta-coded (each start minus the previous item's start) and "d" is the duration,
// which keeps the numbers short. "vu" (ValidUntil) and "rel" (release) are relative to the lease's start.
// Optional numbers are null when the history does not give them; "key", "err" and "why" index "keys" and
// "texts", -1 for none. Holds and renewals go by row (node × len(node_keys) + key) instead of lane, with one
// "off" entry per row plus one; their "owner" and "by" index "who" and "end" indexes "texts" (-1 for none:
// held to the end of the run). Every string is escaped so that "</script>" cannot appear in the blob.
func encodeBlob(b []byte, tl *timeline) ([]byte, error) {
	b = append(b, `{"v":`...)
	b = strconv.AppendInt(b, blobVersion, 10)
	b = append(b, `,"end":`...)
	b = strconv.AppendInt(b, tl.End, 10)
	var err error
	for _, f := range []struct {
		name string
		v    any
	}{{"lanes", tl.Lanes}, {"keys", tl.Keys}, {"texts", tl.Texts}, {"faults", tl.Faults}, {"marks", tl.Marks}, {"stuck", tl.Stuck}, {"notes", tl.Notes}} {
		b = append(b, ',', '"')
		b = append(b, f.name...)
		b = append(b, '"', ':')
		if b, err = appendJSON(b, f.v); err != nil {
			return nil, err
		}
	}
	lanes := len(tl.Lanes)
	for _, k := range []struct {
		name string
		a    []attempt
	}{{"acquire", tl.Acquires}, {"extend", tl.Extends}, {"release", tl.Releases}} {
		a := k.a
		c := columns{b: b}
		c.open(k.name, laneStarts(a, func(x *attempt) int { return x.Lane }, lanes))
		c.col("key", len(a), func(i int) int64 { return int64(a[i].Key) })
		c.col("id", len(a), func(i int) int64 { return a[i].ID })
		c.delta("t0", len(a), func(i int) int64 { return a[i].T0 })
		c.col("d", len(a), func(i int) int64 { return a[i].T1 - a[i].T0 })
		c.col("out", len(a), func(i int) int64 { return int64(a[i].Out) })
		c.col("fence", len(a), func(i int) int64 { return a[i].Fence })
		c.opt("valid", len(a), func(i int) (int64, bool) { return a[i].Valid, a[i].HasValid })
		c.col("err", len(a), func(i int) int64 { return int64(a[i].Err) })
		b = c.close()
	}
	ls := tl.Leases
	c := columns{b: b}
	c.open("lease", laneStarts(ls, func(x *lease) int { return x.Lane }, lanes))
	c.col("key", len(ls), func(i int) int64 { return int64(ls[i].Key) })
	c.col("id", len(ls), func(i int) int64 { return ls[i].ID })
	c.delta("t0", len(ls), func(i int) int64 { return ls[i].T0 })
	c.col("d", len(ls), func(i int) int64 { return ls[i].T1 - ls[i].T0 })
	c.opt("vu", len(ls), func(i int) (int64, bool) { return ls[i].ValidUntil - ls[i].T0, ls[i].HasValid })
	c.col("end", len(ls), func(i int) int64 { return int64(ls[i].EndBy) })
	c.opt("rel", len(ls), func(i int) (int64, bool) { return ls[i].Release - ls[i].T0, ls[i].HasRelease })
	c.col("fence", len(ls), func(i int) int64 { return ls[i].Fence })
	c.col("ext", len(ls), func(i int) int64 { return int64(ls[i].Extends) })
	b = c.close()

	cs := tl.CS
	c = columns{b: b}
	c.open("cs", laneStarts(cs, func(x *section) int { return x.Lane }, lanes))
	c.col("key", len(cs), func(i int) int64 { return int64(cs[i].Key) })
	c.col("id", len(cs), func(i int) int64 { return cs[i].ID })
	c.delta("t0", len(cs), func(i int) int64 { return cs[i].T0 })
	c.col("d", len(cs), func(i int) int64 { return cs[i].T1 - cs[i].T0 })
	c.col("out", len(cs), func(i int) int64 { return int64(cs[i].Out) })
	c.col("why", len(cs), func(i int) int64 { return int64(cs[i].Reason) })
	c.opt("read", len(cs), func(i int) (int64, bool) { return cs[i].Read, cs[i].HasRead })
	c.opt("wrote", len(cs), func(i int) (int64, bool) { return cs[i].Wrote, cs[i].HasWrote })
	c.col("fence", len(cs), func(i int) int64 { return cs[i].Fence })
	c.opt("vr", len(cs), func(i int) (int64, bool) { return cs[i].ValidRead, cs[i].HasValidRead })
	c.opt("vw", len(cs), func(i int) (int64, bool) { return cs[i].ValidWrite, cs[i].HasValidWrite })
	b = c.close()
	if b, err = encodeNodes(b, tl); err != nil {
		return nil, err
	}
	return append(b, '}'), nil
}

// encodeNodes appends the node lanes, when the run has a node record: the holds columnar like the workers' items
// (a long run holds a lock on five nodes tens of thousands of times), the rest as plain JSON.
func encodeNodes(b []byte, tl *timeline) ([]byte, error) {
	if !tl.NodeRecord {
		return b, nil
	}
	b = append(b, `,"node_record":true`...)
	var err error
	for _, f := range []struct {
		name string
		v    any
	}{{"nodes", tl.Nodes}, {"node_keys", tl.NodeKeys}, {"who", tl.Who}, {"node_events", tl.NodeEvents}, {"node_down", tl.NodeDown}} {
		b = append(b, ',', '"')
		b = append(b, f.name...)
		b = append(b, '"', ':')
		if b, err = appendJSON(b, f.v); err != nil {
			return nil, err
		}
	}
	rows := len(tl.Nodes) * len(tl.NodeKeys)
	hs := tl.Holds
	c := columns{b: b}
	c.open("hold", laneStarts(hs, func(x *hold) int { return x.Row }, rows))
	c.col("owner", len(hs), func(i int) int64 { return int64(hs[i].Owner) })
	c.delta("t0", len(hs), func(i int) int64 { return hs[i].T0 })
	c.col("d", len(hs), func(i int) int64 { return hs[i].T1 - hs[i].T0 })
	c.col("end", len(hs), func(i int) int64 { return int64(hs[i].End) })
	c.col("by", len(hs), func(i int) int64 { return int64(hs[i].By) })
	b = c.close()
	rs := tl.Renewals
	c = columns{b: b}
	c.open("renew", laneStarts(rs, func(x *renewal) int { return x.Row }, rows))
	c.delta("t0", len(rs), func(i int) int64 { return rs[i].T })
	c.col("d", len(rs), func(int) int64 { return 0 })
	c.col("by", len(rs), func(i int) int64 { return int64(rs[i].By) })
	c.col("hold", len(rs), func(i int) int64 { return int64(rs[i].Hold) })
	return c.close(), nil
}

// appendJSON appends v as JSON. encoding/json escapes <, > and & in strings, which is what keeps the blob safe
// inside a script element.
func appendJSON(b []byte, v any) ([]byte, error) {
	j, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return append(b, j...), nil
}

// columns appends one columnar object.
type columns struct{ b []byte }

func (c *columns) open(name string, off []int) {
	c.b = append(c.b, ',', '"')
	c.b = append(c.b, name...)
	c.b = append(c.b, `":{"off":[`...)
	for i, o := range off {
		if i > 0 {
			c.b = append(c.b, ',')
		}
		c.b = strconv.AppendInt(c.b, int64(o), 10)
	}
	c.b = append(c.b, ']')
}

func (c *columns) start(name string) {
	c.b = append(c.b, ',', '"')
	c.b = append(c.b, name...)
	c.b = append(c.b, '"', ':', '[')
}

func (c *columns) col(name string, n int, f func(int) int64) {
	c.start(name)
	for i := range n {
		if i > 0 {
			c.b = append(c.b, ',')
		}
		c.b = strconv.AppendInt(c.b, f(i), 10)
	}
	c.b = append(c.b, ']')
}

func (c *columns) delta(name string, n int, f func(int) int64) {
	prev := int64(0)
	c.col(name, n, func(i int) int64 {
		v := f(i)
		d := v - prev
		prev = v
		return d
	})
}

func (c *columns) opt(name string, n int, f func(int) (int64, bool)) {
	c.start(name)
	for i := range n {
		if i > 0 {
			c.b = append(c.b, ',')
		}
		if v, ok := f(i); ok {
			c.b = strconv.AppendInt(c.b, v, 10)
		} else {
			c.b = append(c.b, "null"...)
		}
	}
	c.b = append(c.b, ']')
}

func (c *columns) close() []byte { return append(c.b, '}') }
