package report_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/redlock-harness/redlock-harness/checker"
	"github.com/redlock-harness/redlock-harness/harness"
	"github.com/redlock-harness/redlock-harness/history"
)

// runDir lays out a run directory as a run leaves it: history.jsonl, and nodes.jsonl when nodes is not "" (the
// name of a file in testdata, or "corrupt").
func runDir(t *testing.T, nodes string) string {
	t.Helper()
	dir := t.TempDir()
	copyFile := func(from, to string) {
		b, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, to), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	copyFile("testdata/small.jsonl", "history.jsonl")
	switch nodes {
	case "":
	case "corrupt":
		if err := os.WriteFile(filepath.Join(dir, history.NodeFile), []byte("{not json\n{\"t\":1}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	default:
		copyFile(filepath.Join("testdata", nodes), history.NodeFile)
	}
	return dir
}

// pageData is the report's embedded timeline data, the parts the node lanes add.
type pageData struct {
	NodeRecord bool     `json:"node_record"`
	Nodes      []string `json:"nodes"`
	NodeKeys   []string `json:"node_keys"`
	Who        []string `json:"who"`
	Hold       struct {
		T0 []int64 `json:"t0"`
	} `json:"hold"`
	Renew struct {
		By []int `json:"by"`
	} `json:"renew"`
	Marks []struct {
		Holds []struct {
			Lost bool `json:"lost"`
		} `json:"holds"`
	} `json:"marks"`
}

func readPage(t *testing.T, dir string) (string, pageData) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	const open = `<script type="application/json" id="timeline-data">`
	i := strings.Index(page, open)
	j := strings.Index(page[i+len(open):], "</script>")
	if i < 0 || j < 0 {
		t.Fatal("no timeline data in the page")
	}
	var d pageData
	if err := json.Unmarshal([]byte(page[i+len(open):i+len(open)+j]), &d); err != nil {
		t.Fatal(err)
	}
	return page, d
}

// TestWriteReportDrawsTheRunsNodeRecord goes the way a run does: the checker judges the history with the node
// record beside it, and harness.WriteReport reads that record again to draw it, so the page's node lanes, the
// pair's highlighted holds and the violation's story all come from the same nodes.jsonl.
func TestWriteReportDrawsTheRunsNodeRecord(t *testing.T) {
	tests := []struct {
		name  string
		nodes string
		// want are strings the page must hold; lanes the node lanes drawn.
		want  []string
		lanes int
	}{
		{"a run with a node record gets node lanes and its violation the servers' story", "small.nodes.jsonl", []string{
			"node record: 3 nodes, 17 holds", `<span class="cause cause-foreign-delete">foreign delete</span>`,
			"(the clients&#39; beliefs alone suggested lease-outlived)",
			"<b>On the servers (n1, n2, n3):</b> g1w10 held k0 on n1,n2,n3 and g2w1 took it on n1,n2,n3: g1w2&#39;s DEL at 0.12s on n1 removed g1w10&#39;s lock",
		}, 3},
		{"a run without one says its causes are inferred from beliefs", "", []string{
			"<span>no node record</span>", `<span class="cause cause-lease-outlived">lease outlived</span>`,
			`<p class="record">no node record: causes inferred from the clients&#39; beliefs only.</p>`,
		}, 0},
		{"a node record that cannot be read is noted, and the report still written", "corrupt", []string{
			"<li>node record not drawn: node record line 1:", "<span>no node record</span>",
		}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := runDir(t, tc.nodes)
			h, err := history.ReadFile(filepath.Join(dir, "history.jsonl"))
			if err != nil {
				t.Fatal(err)
			}
			opts := checker.Options{}
			if evs, err := history.ReadNodes(filepath.Join(dir, history.NodeFile)); err == nil {
				opts.Nodes = evs
			}
			if err := harness.WriteReport(dir, h, checker.Check(h, opts)); err != nil {
				t.Fatal(err)
			}
			page, d := readPage(t, dir)
			for _, w := range tc.want {
				if !strings.Contains(page, w) {
					t.Errorf("page lacks %q", w)
				}
			}
			if len(d.Nodes) != tc.lanes || d.NodeRecord != (tc.lanes > 0) {
				t.Fatalf("node lanes %q (record %v), want %d", d.Nodes, d.NodeRecord, tc.lanes)
			}
			if tc.lanes == 0 {
				return
			}
			if len(d.Hold.T0) != 17 || len(d.NodeKeys) != 2 {
				t.Errorf("%d holds on rows %q, want the record's 17 on k0 and k1", len(d.Hold.T0), d.NodeKeys)
			}
			// The renewal g1w1 sent for g2w1's lock on n2 is drawn with its sender, which only the raw record names.
			if len(d.Renew.By) != 1 || d.Who[d.Renew.By[0]] != "g1w1" {
				t.Errorf("renewals by %v (who %q), want one by g1w1", d.Renew.By, d.Who)
			}
			lost := 0
			for _, h := range d.Marks[0].Holds {
				if h.Lost {
					lost++
				}
			}
			if len(d.Marks[0].Holds) != 6 || lost != 3 {
				t.Errorf("V1 highlights %d holds, %d lost; want both holders' on n1..n3, the first's 3 lost", len(d.Marks[0].Holds), lost)
			}
		})
	}
}
