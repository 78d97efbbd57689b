package fault

import (
	"testing"

	"github.com/redlock-harness/redlock-harness/internal/testslot"
)

// TestMain runs this package's tests in the machine's test slot: they start servers, run whole scenarios or keep
// the CPUs busy, and beside another such package on a small machine their timing would be the machine's.
func TestMain(m *testing.M) { testslot.Main(m, nil) }
