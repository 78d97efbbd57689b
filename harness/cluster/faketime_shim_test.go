package cluster

import (
	"errors"
	"os"
	"strings"
	"testing"
)

func TestARunFindsTheShimProvisioningBuiltAndNeverBuildsItItself(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	t.Setenv("HOME", t.TempDir())
	if _, err := FakeTimeShim(); !errors.Is(err, ErrNoShim) || !strings.Contains(err.Error(), "make deps") {
		t.Fatalf("before setup: %v; want ErrNoShim naming make deps", err)
	}
	built, err := BuildFakeTimeShim()
	if err != nil {
		t.Fatal(err)
	}
	found, err := FakeTimeShim()
	if err != nil || found != built {
		t.Fatalf("after setup: %q, %v; want %q", found, err, built)
	}
	if fi, err := os.Stat(found); err != nil || fi.Size() == 0 {
		t.Fatalf("the shim at %s: %v", found, err)
	}
}
