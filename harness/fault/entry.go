package fault

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"

	"gopkg.in/yaml.v3"
)

// Entry is one entry of a scenario's fault schedule (`faults:` in a scenario file). Its kind and its timing are
// common to every fault; everything else in the entry belongs to the kind, which the registry decodes into the
// kind's own type (Kind.New), strictly: a key the kind does not declare is an error naming the entry's line.
type Entry struct {
	// Kind names the fault (latency, partition, pause, …).
	Kind string `json:"kind"`
	Timing
	// Fault is the entry's fault with its parameters and targets, decoded by its kind when the entry is read.
	Fault Fault `json:"-"`
	// Line is the line of the entry in its file, for error messages.
	Line int `json:"-"`
}

// Timing is when a fault strikes: the part of an entry the scheduler reads, the same for every kind. A kind that
// implements Validator sees it, to refuse a timing that makes no sense for it.
type Timing struct {
	// At is when the fault is first injected, from the start of the run.
	At Duration `yaml:"at" json:"at"`
	// For is how long it stays before it is healed; 0 means until the end of the run.
	For Duration `yaml:"for" json:"for,omitempty"`
	// Every repeats the fault with this period (measured from one injection to the next); 0 means once.
	Every Duration `yaml:"every" json:"every,omitempty"`
}

// Window is one active period of a fault.
type Window struct{ From, To time.Duration }

// Schedule returns the injection times and durations of the fault within a run of length total: injection i
// happens at At + i×Every and lasts For (or until the end of the run when For is 0).
func (t Timing) Schedule(total time.Duration) []Window {
	var out []Window
	for at := t.At.D(); at < total; at += t.Every.D() {
		end := total
		if t.For > 0 && at+t.For.D() < total {
			end = at + t.For.D()
		}
		out = append(out, Window{From: at, To: end})
		if t.Every <= 0 {
			break
		}
	}
	return out
}

// String names the entry in messages.
func (e Entry) String() string { return fmt.Sprintf("%s at %s", e.Kind, e.At) }

// commonKeys are the keys of an entry that are not its kind's: they are read by the schedule, not the fault.
var commonKeys = map[string]bool{"kind": true, "at": true, "for": true, "every": true}

// UnmarshalYAML reads the entry's kind and timing, then has the kind's registry entry decode the rest into the
// kind's own type. Its errors start with "line N:" and are returned as a yaml.TypeError, so that the loader
// reports every bad entry of a file at once, each at its line.
func (e *Entry) UnmarshalYAML(n *yaml.Node) error {
	e.Line = n.Line
	if n.Kind != yaml.MappingNode {
		return lineErrors(n.Line, errors.New("a fault entry is a mapping (kind: …, at: …)"))
	}
	common, params := splitEntry(n)
	var head struct {
		Kind   string `yaml:"kind"`
		Timing `yaml:",inline"`
	}
	if err := common.Decode(&head); err != nil {
		return lineErrors(n.Line, err)
	}
	e.Kind, e.Timing = head.Kind, head.Timing
	if e.Kind == "" {
		return lineErrors(n.Line, errors.New("fault without kind"))
	}
	f, err := decode(e.Kind, params, e.Timing)
	if err != nil {
		return lineErrors(n.Line, err)
	}
	e.Fault = f
	return nil
}

// splitEntry splits an entry's mapping into its common keys and its kind's parameters.
func splitEntry(n *yaml.Node) (common, params *yaml.Node) {
	common = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: n.Line, Column: n.Column}
	params = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: n.Line, Column: n.Column}
	for i := 0; i+1 < len(n.Content); i += 2 {
		into := params
		if commonKeys[n.Content[i].Value] {
			into = common
		}
		into.Content = append(into.Content, n.Content[i], n.Content[i+1])
	}
	return common, params
}

var linePrefix = regexp.MustCompile(`^line \d+: `)

// lineErrors turns err into a yaml.TypeError of one message per problem, each starting with its line: the one
// yaml gave it, or the entry's.
func lineErrors(line int, err error) error {
	var msgs []string
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs = te.Errors
	} else {
		msgs = []string{err.Error()}
	}
	out := &yaml.TypeError{}
	for _, m := range msgs {
		if !linePrefix.MatchString(m) {
			m = fmt.Sprintf("line %d: %s", line, m)
		}
		out.Errors = append(out.Errors, m)
	}
	return out
}

// MarshalJSON writes the entry as it was written in its file, in one object: kind, timing, then the kind's own
// parameters and targets. config.json records it so, and a run's record shows every fault's parameters.
func (e Entry) MarshalJSON() ([]byte, error) {
	head, err := json.Marshal(struct {
		Kind string `json:"kind"`
		Timing
	}{e.Kind, e.Timing})
	if err != nil || e.Fault == nil {
		return head, err
	}
	params, err := json.Marshal(e.Fault)
	if err != nil {
		return nil, err
	}
	if len(params) < 2 || params[0] != '{' {
		return nil, fmt.Errorf("fault %s: its parameters are not a JSON object: %s", e.Kind, params)
	}
	if bytes.Equal(params, []byte("{}")) {
		return head, nil
	}
	return append(append(head[:len(head)-1], ','), params[1:]...), nil
}
