package report

import (
	"embed"
	"fmt"
	"html/template"
	"net/url"
	"slices"
	"strings"
)

//go:embed assets/page.html assets/report.css assets/report.js
var assets embed.FS

// pageTemplate is the page around the timeline blob: "head" is everything up to the blob, "tail" the script.
var pageTemplate = template.Must(template.ParseFS(assets, "assets/page.html"))

var pageCSS, pageJS = mustAsset("assets/report.css"), mustAsset("assets/report.js")

func mustAsset(name string) string {
	b, err := assets.ReadFile(name)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// page is what the template shows; every string in it is text that the template escapes.
type page struct {
	Title        string
	Scenario     string
	Strategy     string
	Verdict      string
	VerdictClass string
	Summary      string
	Facts        []string
	Notes        []string
	Violations   []violationView
	// Liveness is the liveness verdict ("" for none), LivenessClass the colour of its badge ("ok", "stuck" or
	// "other"), LivenessReason its sentence, and Stuck the stuck keys.
	Liveness       string
	LivenessClass  string
	LivenessReason string
	Stuck          []stuckView
	// NodeRecord says the run has a node record, drawn as node lanes under the workers'.
	NodeRecord bool
	Tables     []Table
	Links      []link
	CSS        template.CSS
	JS         template.JS
}

type link struct{ Href, Label string }

type violationView struct {
	N, Index    int
	Key         string
	CauseLabel  string
	CauseClass  string
	Side        string
	Faults      string
	Parts       []partView
	Overlap     string
	Explanation string
	// Story is what the servers' record shows happened, on StoryNodes; Belief says which cause the clients'
	// beliefs alone suggested when the record proved another; Record says why there is no story.
	Story, StoryNodes, Belief, Record string
}

// stuckView is one stuck key as the page lists it.
type stuckView struct {
	N, Index                                    int
	Key, Since, Until, For, FaultFree, Attempts string
	Last                                        string
}

type partView struct {
	Role, Worker, Read, Wrote, ReadAt, WroteAt, Fence, Lease string
	// Late: the holder wrote after its own ValidUntil.
	Late bool
}

// newPage gathers what the template shows; written is the number of critical sections that wrote. It refuses a
// link that is not a relative path, which is what keeps the page from ever reaching for the network.
func newPage(in Input, tl *timeline, written int) (*page, error) {
	p := &page{Summary: in.Summary, Tables: in.Tables, CSS: template.CSS(pageCSS), JS: template.JS(pageJS)}
	var hd struct {
		scenario, strategy, started string
		seed                        int64
		fenced                      bool
		events                      int
		truncated                   string
	}
	if h := in.History; h != nil {
		hd.scenario, hd.strategy, hd.started = h.Header.Scenario, h.Header.Strategy, h.Header.Started
		hd.seed, hd.fenced, hd.events, hd.truncated = h.Header.Seed, h.Header.Fenced, len(h.Events), h.Truncated
	}
	p.Scenario, p.Strategy = firstOf(hd.scenario, "unnamed scenario"), firstOf(hd.strategy, "unnamed strategy")
	p.Title = fmt.Sprintf("%s / %s seed %d — %s", p.Scenario, p.Strategy, hd.seed, firstOf(in.Verdict, "no verdict"))
	p.Verdict = firstOf(in.Verdict, "no verdict")
	switch in.Verdict {
	case "valid", "invalid", "unknown":
		p.VerdictClass = in.Verdict
	default:
		p.VerdictClass = "other"
	}
	p.Facts = []string{fmt.Sprintf("seed %d", hd.seed)}
	if hd.started != "" {
		p.Facts = append(p.Facts, "started "+hd.started)
	}
	p.Facts = append(p.Facts, fmtSeconds(tl.End)+" recorded", plural(len(tl.Lanes), "worker"), plural(hd.events, "event"),
		plural(written, "critical section")+" written", plural(len(tl.Faults), "fault window"))
	if hd.fenced {
		p.Facts = append(p.Facts, "fenced resource")
	}
	p.NodeRecord = tl.NodeRecord
	if tl.NodeRecord {
		p.Facts = append(p.Facts, "node record: "+plural(len(tl.Nodes), "node")+", "+plural(len(tl.Holds), "hold"))
	} else {
		p.Facts = append(p.Facts, "no node record")
	}
	if hd.truncated != "" {
		p.Notes = append(p.Notes, "history cut off: "+hd.truncated)
	}
	for _, n := range slices.Concat(in.Notes, tl.Notes) {
		if !slices.Contains(p.Notes, n) { // the caller's notes may repeat the cut-off line
			p.Notes = append(p.Notes, n)
		}
	}

	for i, v := range in.Violations {
		p.Violations = append(p.Violations, newViolationView(i, v, tl))
	}
	p.setLiveness(in, tl)
	hrefs := make([]string, 0, len(in.Links))
	for h := range in.Links {
		hrefs = append(hrefs, h)
	}
	slices.Sort(hrefs)
	for _, h := range hrefs {
		if err := checkRelative(h); err != nil {
			return nil, err
		}
		p.Links = append(p.Links, link{Href: h, Label: firstOf(in.Links[h], h)})
	}
	return p, nil
}

// checkRelative accepts a path relative to the page and nothing that could leave the directory for the network.
func checkRelative(href string) error {
	u, err := url.Parse(href)
	if err != nil {
		return fmt.Errorf("report: link %q: %w", href, err)
	}
	if u.Scheme != "" || u.Host != "" || strings.HasPrefix(href, "//") || strings.HasPrefix(href, "/") || href == "" {
		return fmt.Errorf("report: link %q is not a relative path next to the report", href)
	}
	return nil
}

func newViolationView(i int, v Violation, tl *timeline) violationView {
	vv := violationView{N: i + 1, Index: i, Key: v.Key, CauseLabel: strings.ReplaceAll(firstOf(v.Cause, "violation"), "-", " "),
		CauseClass: classOf(v.Cause), Side: causeSide[v.Cause], Faults: "none", Explanation: v.Explanation}
	if len(v.Faults) > 0 {
		vv.Faults = strings.Join(v.Faults, ", ")
	}
	m := tl.Marks[i]
	parts := []Interval{v.A}
	if !v.B.isZero() {
		parts = append(parts, v.B)
	}
	for j, iv := range parts {
		pv := partView{Role: string(rune('A' + j)), Worker: iv.Worker, Read: fmt.Sprint(iv.Read), Wrote: fmt.Sprint(iv.Wrote),
			ReadAt: fmtSeconds(iv.ReadT), WroteAt: fmtSeconds(iv.WriteT), Fence: "—", Lease: "not recorded"}
		if iv.Fence != 0 {
			pv.Fence = fmt.Sprint(iv.Fence)
		}
		if cs := m.Parts[j].CS; cs >= 0 {
			pv.Lease, pv.Late = leaseLine(tl.CS[cs], iv)
		}
		vv.Parts = append(vv.Parts, pv)
	}
	if len(parts) == 2 && m.To > m.From {
		reads := fmt.Sprintf("both read %d", v.A.Read)
		if v.A.Read != v.B.Read {
			reads = fmt.Sprintf("they read %d and %d", v.A.Read, v.B.Read)
		}
		vv.Overlap = fmt.Sprintf("Both were inside their critical sections from %s to %s (%s) and %s: one increment was lost.",
			fmtSeconds(m.From), fmtSeconds(m.To), fmtDuration(m.To-m.From), reads)
	}
	if vv.Explanation == "" {
		vv.Explanation = explain(v.Cause, vv.Parts)
	}
	vv.Story, vv.StoryNodes, vv.Record = v.Story, strings.Join(v.Nodes, ", "), recordNote(v, tl.NodeRecord)
	if v.BeliefCause != "" && v.BeliefCause != v.Cause {
		vv.Belief = "the clients' beliefs alone suggested " + v.BeliefCause
	}
	return vv
}

// leaseLine says until when the holder believed its lease valid, from the validity the section recorded.
func leaseLine(s section, iv Interval) (string, bool) {
	switch {
	case s.HasValidWrite:
		until := s.T1 + s.ValidWrite
		if s.ValidWrite < 0 {
			return fmt.Sprintf("valid until %s: wrote %s after it ran out", fmtSeconds(until), fmtDuration(-s.ValidWrite)), true
		}
		return fmt.Sprintf("valid until %s (%s left at the write)", fmtSeconds(until), fmtDuration(s.ValidWrite)), false
	case s.HasValidRead:
		return fmt.Sprintf("valid until %s at the read", fmtSeconds(s.T0+s.ValidRead)), s.T0+s.ValidRead < iv.WriteT
	}
	return "not recorded", false
}

// setLiveness fills the liveness verdict and the stuck keys, as the timeline numbers them (S1, S2, …).
func (p *page) setLiveness(in Input, tl *timeline) {
	p.Liveness, p.LivenessReason = in.Liveness, in.LivenessReason
	switch {
	case in.Liveness == "" && len(tl.Stuck) > 0:
		p.Liveness = "stuck"
	case in.Liveness == "":
		return
	}
	p.LivenessClass = "other"
	if p.Liveness == "ok" || p.Liveness == "stuck" {
		p.LivenessClass = p.Liveness
	}
	for i, s := range tl.Stuck {
		p.Stuck = append(p.Stuck, stuckView{N: s.N, Index: i, Key: s.Key, Since: fmtSeconds(s.From), Until: fmtSeconds(s.To),
			For: fmtDuration(s.To - s.From), FaultFree: fmtDuration(s.FaultFree), Attempts: fmt.Sprint(s.Attempts), Last: s.Last})
	}
}
