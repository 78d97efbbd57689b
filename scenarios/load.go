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

	"github.com/redlock-harness/redlock-harness/lock"
)

//go:embed *.yaml
var builtin embed.FS

// FaultValidator checks one fault entry: that its kind exists and that it has the parameters it needs. The fault
// package installs it; it is a variable so that this package does not depend on the faults it schedules.
var FaultValidator func(s *Scenario, f FaultSpec) error

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
	if err := yaml.Unmarshal(data, &root); err == nil {
		lines := faultLines(&root)
		for i := range s.Faults {
			if i < len(lines) {
				s.Faults[i].Line = lines[i]
			}
		}
	}
	s.applyDefaults()
	if err := s.validate(lineOfKey(&root)); err != nil {
		return nil, err
	}
	return s, nil
}

func faultLines(root *yaml.Node) []int {
	if root.Kind != yaml.DocumentNode || len(root.Content) == 0 {
		return nil
	}
	m := root.Content[0]
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == "faults" && m.Content[i+1].Kind == yaml.SequenceNode {
			var out []int
			for _, item := range m.Content[i+1].Content {
				out = append(out, item.Line)
			}
			return out
		}
	}
	return nil
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
		fbad := func(format string, args ...any) {
			errs = append(errs, &FileError{File: s.File, Line: f.Line, Msg: fmt.Sprintf(format, args...)})
		}
		if f.Kind == "" {
			fbad("fault without kind")
			continue
		}
		if f.At.D() >= s.Duration.D() && s.Duration > 0 {
			fbad("%s: at %s is not before the end of the run (%s)", f.Kind, f.At, s.Duration)
		}
		for _, n := range f.Nodes {
			if !validIndexName(n, "n", s.Nodes) {
				fbad("%s: unknown node %q (nodes are n1…n%d)", f.Kind, n, s.Nodes)
			}
		}
		for _, g := range f.ClientGroups {
			if !validIndexName(g, "g", s.Groups) {
				fbad("%s: unknown client group %q (groups are g1…g%d)", f.Kind, g, s.Groups)
			}
		}
		for _, w := range f.Workers {
			var g, i int
			if _, err := fmt.Sscanf(w, "g%dw%d", &g, &i); err != nil || g < 1 || g > s.Groups || i < 1 || i > s.Workers || fmt.Sprintf("g%dw%d", g, i) != w {
				fbad("%s: unknown worker %q (workers are g1w1…g%dw%d)", f.Kind, w, s.Groups, s.Workers)
			}
		}
		if FaultValidator != nil {
			if err := FaultValidator(s, f); err != nil {
				fbad("%v", err)
			}
		}
	}
	return errors.Join(errs...)
}

func validIndexName(name, prefix string, n int) bool {
	if !strings.HasPrefix(name, prefix) {
		return false
	}
	i, err := strconv.Atoi(name[len(prefix):])
	return err == nil && i >= 1 && i <= n && strconv.Itoa(i) == name[len(prefix):]
}
