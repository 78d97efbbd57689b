package fault

import (
	"github.com/redlock-harness/redlock-harness/internal/strictyaml"

	"context"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
)

// named is a fault whose name is chosen by the test, for Register to accept or refuse.
type named struct{ name string }

func (f *named) Name() string                                    { return f.name }
func (f *named) Inject(context.Context, *Env) (Injection, error) { return Injection{}, nil }

// byValue is a fault that is not a pointer to a struct: nothing could be decoded into it.
type byValue struct{}

func (byValue) Name() string                                    { return "by-value" }
func (byValue) Inject(context.Context, *Env) (Injection, error) { return Injection{}, nil }

func TestRegisterRefusesAKindItCouldNotDecodeOrWouldConfuse(t *testing.T) {
	tests := []struct {
		name string
		kind Kind
		want string
	}{
		{"a kind without New", Kind{Name: "no-new"}, "has no New"},
		{"a kind whose New is not a pointer to a struct", Kind{Name: "by-value", New: func() Fault { return byValue{} }}, "pointer to a struct"},
		{"a kind named otherwise than its faults", Kind{Name: "one", New: func() Fault { return &named{"other"} }}, "registered as one, named other"},
		{"a kind registered twice", Kind{Name: "pause", New: func() Fault { return &pause{} }}, "registered twice"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if r := recover(); r == nil || !strings.Contains(r.(string), tc.want) {
					t.Fatalf("panic %v, want one containing %q", r, tc.want)
				}
			}()
			Register(tc.kind)
		})
	}
}

func TestAKindTakesTheKeysYAMLWouldDecodeIntoItsType(t *testing.T) {
	type inner struct {
		Deep int `yaml:"deep"`
	}
	tests := []struct {
		name string
		typ  any
		want []string
	}{
		{"tagged fields by their tag, untagged ones lowercased", struct {
			A    int `yaml:"alpha"`
			Beta int
		}{}, []string{"alpha", "beta"}},
		{"inline targets and inline pointers to structs", struct {
			NodeTargets `yaml:",inline"`
			*inner      `yaml:",inline"`
		}{}, []string{"deep", "nodes"}},
		{"fields tagged - and unexported fields left out", struct {
			Skip  int `yaml:"-"`
			state int
			Kept  int `yaml:"kept"`
		}{}, []string{"kept"}},
		{"an embedded struct not marked inline is one key, as yaml reads it", struct{ GroupTargets }{}, []string{"grouptargets"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			keys := strictyaml.Keys(reflect.TypeOf(tc.typ))
			var got []string
			for k := range keys {
				got = append(got, k)
			}
			sort.Strings(got)
			if !slices.Equal(got, tc.want) {
				t.Fatalf("keys %v, want %v", got, tc.want)
			}
		})
	}
}
