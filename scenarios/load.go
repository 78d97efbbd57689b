package scenarios

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/redlock-harness/redlock-harness/harness/fault"
	"github.com/redlock-harness/redlock-harness/internal/strictyaml"
	"github.com/redlock-harness/redlock-harness/lock"
)

//go:embed *.yaml
var builtin embed.FS

// Names lists the built-in scenarios.
func Names() []string {
	entries, _ := fs.ReadDir(builtin, ".")
	var out []string
	for _, e := range entries {
		n := strings.TrimSuffix(e.Name(), ".yaml")
		if n == e.Name() || n == "expectations" || n == "mutants" {
			continue
		}
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Load finds a scenario by built-in name (e.g. "partition") or by the path of a YAML file.
func Load(name string) (*Scenario, error) {
	if strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml") || strings.ContainsRune(name, os.PathSeparator) {
		data, err := os.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("scenario: %w", err)
		}
		base := strings.TrimSuffix(strings.TrimSuffix(filepath.Base(name), ".yaml"), ".yml")
		return Parse(base, name, data)
	}
	data, err := builtin.ReadFile(name + ".yaml")
	if err != nil {
		return nil, fmt.Errorf("unknown scenario %q (known: %s; or give the path of a .yaml file)", name, strings.Join(Names(), ", "))
	}
	return Parse(name, "scenarios/"+name+".yaml", data)
}

// MustLoad is Load for tests and examples: it panics on error.
func MustLoad(name string) *Scenario {
	s, err := Load(name)
	if err != nil {
		panic(err)
	}
	return s
}

// Builtin returns the raw text of a built-in file, e.g. "expectations.yaml".
func Builtin(file string) ([]byte, error) { return builtin.ReadFile(file) }

var lineRe = regexp.MustCompile(`^line (\d+): (.*)$`)

// FileError is an error at a place in a scenario file.
type FileError struct {
	File string
	Line int
	Msg  string
}

func (e *FileError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// yamlErrors turns yaml.v3's errors into FileErrors, one per problem, keeping the line numbers.
func yamlErrors(file string, err error) error {
	var msgs []string
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs = te.Errors
	} else {
		msgs = []string{strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	var out []error
	for _, m := range msgs {
		fe := &FileError{File: file, Msg: m}
		if sm := lineRe.FindStringSubmatch(m); sm != nil {
			fe.Line, _ = strconv.Atoi(sm[1])
			fe.Msg = sm[2]
		}
		fe.Msg = strings.ReplaceAll(fe.Msg, "scenarios.", "")
		out = append(out, fe)
	}
	return errors.Join(out...)
}

// Parse reads a scenario from data; file is used in error messages.
func Parse(name, file string, data []byte) (*Scenario, error) {
	s := &Scenario{Name: name, File: file}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(s); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &FileError{File: file, Msg: "empty scenario file"}
		}
		return nil, yamlErrors(file, err)
	}
	var root yaml.Node
	_ = yaml.Unmarshal(data, &root) // the same text decoded above, read again as nodes for the lines of its keys
	s.applyDefaults()
	if err := s.validate(lineOfKey(&root)); err != nil {
		return nil, err
	}
	return s, nil
}

func lineOfKey(root *yaml.Node) func(key string) int {
	return func(key string) int {
		if root.Kind != yaml.DocumentNode || len(root.Content) == 0 {
			return 0
		}
		m := root.Content[0]
		for i := 0; i+1 < len(m.Content); i += 2 {
			if m.Content[i].Value == key {
				return m.Content[i].Line
			}
		}
		return 0
	}
}

func (s *Scenario) applyDefaults() {
	if s.Nodes == 0 {
		s.Nodes = 5
	}
	if s.Groups == 0 {
		s.Groups = 3
	}
	if s.Workers == 0 {
		s.Workers = 8
	}
	if s.Keys == 0 {
		s.Keys = 1
	}
	if s.TTL == 0 {
		s.TTL = Duration(1e9)
	}
	if s.Hold.Max == 0 && s.Hold.Min == 0 {
		s.Hold = Range{Min: Duration(20e6), Max: Duration(100e6)}
	}
	if s.Think.Max == 0 && s.Think.Min == 0 {
		s.Think = Range{Min: 0, Max: Duration(20e6)}
	}
	if s.Client == "" {
		s.Client = "careful"
	}
	if s.MinCriticalSections == 0 {
		s.MinCriticalSections = 20
	}
	if s.Persistence == "" {
		s.Persistence = "none"
	}
}

func (s *Scenario) validate(line func(string) int) error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, &FileError{File: s.File, Line: line(key), Msg: fmt.Sprintf(format, args...)})
	}
	if s.Duration <= 0 {
		bad("duration", "duration must be set and positive")
	}
	if s.Nodes < 1 || s.Nodes > 9 {
		bad("nodes", "nodes must be between 1 and 9, got %d", s.Nodes)
	}
	if s.Groups < 1 || s.Groups > 9 {
		bad("groups", "groups must be between 1 and 9, got %d", s.Groups)
	}
	if s.Workers < 1 || s.Workers > 256 {
		bad("workers", "workers must be between 1 and 256, got %d", s.Workers)
	}
	if s.Keys < 1 {
		bad("keys", "keys must be at least 1")
	}
	if s.Hold.Min > s.Hold.Max {
		bad("hold", "hold.min %s is above hold.max %s", s.Hold.Min, s.Hold.Max)
	}
	if s.Think.Min > s.Think.Max {
		bad("think", "think.min %s is above think.max %s", s.Think.Min, s.Think.Max)
	}
	if s.Client != "careful" && s.Client != "careless" && s.Client != "greedy" {
		bad("client", "client must be careful, careless or greedy, got %q", s.Client)
	}
	if s.Persistence != "none" && s.Persistence != "aof-always" {
		bad("persistence", "persistence must be none or aof-always, got %q", s.Persistence)
	}
	if s.MinCriticalSections < 0 {
		bad("min_critical_sections", "min_critical_sections must not be negative")
	}
	for _, st := range s.Strategies {
		if _, err := lock.Lookup(st); err != nil {
			bad("strategies", "%v", err)
		}
	}
	for _, f := range s.Faults {
		errs = append(errs, s.checkFault(f)...)
	}
	for name, p := range s.StrategyOptions {
		if err := p.configure(name); err != nil {
			errs = append(errs, &FileError{File: s.File, Line: p.node.Line, Msg: err.Error()})
		}
	}
	return errors.Join(errs...)
}

// configure decodes the parameters into the named strategy's own type.
func (p *StrategyParams) configure(name string) error {
	info, err := lock.Lookup(name)
	if err != nil {
		return err
	}
	p.strategy, err = info.Configured(func(v any) error { return strictyaml.Decode(name, &p.node, v) })
	return err
}

// checkFault checks a fault entry against the scenario: it strikes before the run ends, and its targets exist.
// Its kind has checked its own parameters when the entry was decoded.
func (s *Scenario) checkFault(f fault.Entry) []error {
	var errs []error
	if f.At.D() >= s.Duration.D() && s.Duration > 0 {
		errs = append(errs, fmt.Errorf("%s: at %s is not before the end of the run (%s)", f.Kind, f.At, s.Duration))
	}
	errs = append(errs, unjoin(f.CheckTargets(fault.Size{Nodes: s.Nodes, Groups: s.Groups, Workers: s.Workers}))...)
	for i, err := range errs {
		errs[i] = &FileError{File: s.File, Line: f.Line, Msg: err.Error()}
	}
	return errs
}

// unjoin returns the errors errors.Join joined, one per problem, or err alone.
func unjoin(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}
