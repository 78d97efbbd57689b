package fault

import (
	"context"

	"github.com/redlock-harness/redlock-harness/harness/netem"
	"github.com/redlock-harness/redlock-harness/scenarios"
)

// replyLoss lets commands through but swallows the replies on the chosen links: the command is applied on the
// node, and the client sees a timeout. This is what makes an operation indeterminate (info): a lock the client
// believes it did not get, or a release it believes failed, may well have happened.
type replyLoss struct{ spec scenarios.FaultSpec }

func (f *replyLoss) Name() string { return "reply-loss" }

func (f *replyLoss) Inject(_ context.Context, env *Env) (Injection, error) {
	groups := pick(env.Rand, f.spec.ClientGroups, env.GroupNames(), len(env.GroupNames()))
	nodes := pick(env.Rand, f.spec.Nodes, env.NodeNames(), f.spec.Count)
	var links []string
	for _, g := range groups {
		for _, n := range nodes {
			links = append(links, netem.LinkName(g, n))
		}
	}
	return applyToLinks(env, links, netem.Effect{Cut: netem.Drop}, netem.Downstream)
}

func init() {
	Register(Kind{
		Name:    "reply-loss",
		Summary: "commands reach the node and are applied, replies never come back (downstream blackhole)",
		New: func(spec scenarios.FaultSpec) (Fault, error) {
			if err := refuse(spec, "nodes", "groups", "count"); err != nil {
				return nil, err
			}
			return &replyLoss{spec}, nil
		},
	})
}
