package scenarios

// Every built-in strategy is registered wherever scenarios and expectations load, so that a scenario's
// `strategies:` and `strategy_options:` and the expectations' cells are checked against the whole catalogue,
// whatever system a strategy locks against.
import (
	_ "github.com/redlock-harness/redlock-harness/lock/etcdlock"
	_ "github.com/redlock-harness/redlock-harness/lock/pglock"
)
