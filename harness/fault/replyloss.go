package fault

import (
	"context"

	"github.com/redlock-harness/redlock-harness/harness/netem"
)

// replyLoss lets commands through but swallows the replies on the chosen links: the command is applied on the
// node, and the client sees a timeout. This is what makes an operation indeterminate (info): a lock the client
// believes it did not get, or a release it believes failed, may well have happened. The links are those between
// the named groups (all by default) and the named nodes (Count drawn by default, one when Count is 0).
type replyLoss struct {
	NodeTargets  `yaml:",inline"`
	GroupTargets `yaml:",inline"`
	// Count is how many nodes to draw when none are named.
	Count int `yaml:"count" json:"count,omitempty"`
}

func (f *replyLoss) Name() string { return "reply-loss" }

func (f *replyLoss) Inject(_ context.Context, env *Env) (Injection, error) {
	groups := pick(env.Rand, f.Groups, env.GroupNames(), len(env.GroupNames()))
	nodes := pick(env.Rand, f.Nodes, env.NodeNames(), f.Count)
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
		New:     func() Fault { return &replyLoss{} },
	})
}
