package scenarios

import "github.com/redlock-harness/redlock-harness/harness/fault"

// Duration is a time.Duration written as "1.5s", "300ms" in scenario files and JSON. It is the faults' own type
// (fault.Duration), so that a fault's parameters and a scenario's settings read and print durations alike.
type Duration = fault.Duration
