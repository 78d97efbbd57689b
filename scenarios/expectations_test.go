package scenarios_test

import (
	"strings"
	"testing"

	"github.com/redlock-harness/redlock-harness/scenarios"
)

func TestExpectationsLoadingIsStrictWithFileAndLine(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"an unknown scenario names its line", "nope:\n  lua: {expect: safe, why: x}\n", "e.yaml:1: unknown scenario \"nope\""},
		{"an expectation other than safe, unsafe, rare or stalls is refused", "baseline:\n  lua: {expect: maybe, why: x}\n", "e.yaml:2: baseline/lua: expect must be safe, unsafe, rare, stalls or n/a"},
		{"an unknown field is refused", "baseline:\n  lua: {expect: safe, why: x, colour: red}\n", "unknown field \"colour\""},
		{"a missing reason is refused", "baseline:\n  lua: {expect: safe}\n", "give a one-line reason"},
		{"a share outside (0, 1] is refused", "baseline:\n  lua: {expect: unsafe, share: 1.5, why: x}\n", "e.yaml:2: baseline/lua: share must be a number in (0, 1]"},
		{"a share on a safe cell is refused", "baseline:\n  lua: {expect: safe, share: 0.5, why: x}\n", "share applies to unsafe cells only"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := scenarios.ParseExpectations("e.yaml", []byte(tc.yaml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
}

func TestTheBuiltinExpectationsLoadAndNameOnlyKnownCells(t *testing.T) {
	e, err := scenarios.LoadExpectations("")
	if err != nil {
		t.Fatal(err)
	}
	if len(e.Cells) == 0 {
		t.Fatal("no expectations")
	}
}

func TestTheBuiltInMutantPlansNameEveryMutantAndLoad(t *testing.T) {
	m, err := scenarios.LoadMutantPlans("")
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Plans) == 0 {
		t.Fatal("no plans")
	}
}

func TestMutantPlansAreLoadedStrictly(t *testing.T) {
	tests := []struct{ name, yaml, want string }{
		{"an unknown mutant names its line", "lua~nope:\n  uncaught: x\n", "x.yaml:1: unknown mutant"},
		{"an unknown scenario names its line", "lua~release-unchecked:\n  killed_by: [nowhere]\n  why: x\n", "unknown scenario \"nowhere\""},
		{"a plan with neither scenarios nor a reason", "lua~release-unchecked:\n  why: x\n", "name the scenarios that catch it"},
		{"scenarios need a reason", "lua~release-unchecked:\n  killed_by: [partition]\n", "say why those scenarios catch it"},
		{"an unknown field names its line", "lua~release-unchecked:\n  uncaught: x\n  rate: 9\n", "x.yaml:3: lua~release-unchecked: unknown field \"rate\""},
		{"every mutant needs a plan", "lua~release-unchecked:\n  uncaught: x\n", "mutant fenced~token-one-node has no plan"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := scenarios.ParseMutantPlans("x.yaml", []byte(tc.yaml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}
