package harness_test

import (
	"testing"

	"github.com/redlock-harness/redlock-harness/harness/system"
	"github.com/redlock-harness/redlock-harness/lock"
)

func TestEveryStrategyAndMutantIsTakenByTheSystemItsEntryNames(t *testing.T) {
	for _, info := range append(lock.All(), lock.Mutants()...) {
		sys, err := system.For(info.Make())
		if err != nil {
			t.Errorf("%s: %v", info.Name, err)
			continue
		}
		if sys.Name() != info.SystemName() {
			t.Errorf("%s is taken by %s, its entry names %s", info.Name, sys.Name(), info.SystemName())
		}
	}
}
