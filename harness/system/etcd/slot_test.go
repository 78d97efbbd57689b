package etcd_test

import (
	"testing"

	"github.com/redlock-harness/redlock-harness/internal/testbin"
	"github.com/redlock-harness/redlock-harness/internal/testslot"
)

// TestMain runs this package's tests in the machine's test slot: they start servers, run whole scenarios or keep
// the CPUs busy, and beside another such package on a small machine their timing would be the machine's. Their
// etcd members run from a plain build of the command, not from this race-instrumented test binary.
func TestMain(m *testing.M) { testslot.Main(m, testbin.PlainEtcdMembers) }
