package history

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestAWrittenHistoryReadsBackEventForEvent(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewWriter(&buf, NewClock(), Header{Scenario: "s", Strategy: "lua", Seed: 7, MinCriticalSections: 3})
	if err != nil {
		t.Fatal(err)
	}
	id := w.NewID()
	w.Record(Event{Ev: EvInvoke, ID: id, Op: OpCS, Worker: "g1w1", Key: "k0"})
	w.Record(Event{Ev: EvOK, ID: id, Op: OpCS, Read: Int(41), Wrote: Int(42)})
	w.Record(Event{Ev: EvFault, Name: "partition", Phase: PhaseInject, Targets: []string{"g1->n1"}})
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	h, err := Read(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if h.Header.Seed != 7 || h.Header.Strategy != "lua" || len(h.Events) != 3 {
		t.Fatalf("got %+v", h)
	}
	if *h.Events[1].Wrote != 42 || h.Events[2].Targets[0] != "g1->n1" {
		t.Fatalf("events %+v", h.Events)
	}
}

func TestTheWriterStreamsToDiskBeforeClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), "h.jsonl")
	w, err := Create(path, NewClock(), Header{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	w.Record(Event{Ev: EvInvoke, ID: w.NewID(), Op: OpAcquire})
	deadline := 20
	for ; deadline > 0; deadline-- {
		b, _ := os.ReadFile(path)
		if strings.Count(string(b), "\n") >= 2 {
			break
		}
		time.Sleep(FlushEvery)
	}
	if deadline == 0 {
		t.Fatal("the event never reached the file while the writer was open")
	}
}

func TestALastLineCutOffByACrashIsSkippedAndReported(t *testing.T) {
	in := `{"t":0,"ev":"header","header":{"version":1,"seed":3}}
{"t":5,"ev":"invoke","id":1,"op":"cs","worker":"g1w1","key":"k0"}
{"t":9,"ev":"ok","id":1,"op":"cs","re`
	h, err := Read(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Events) != 1 || !strings.Contains(h.Truncated, "line 3") {
		t.Fatalf("events %d, truncated %q", len(h.Events), h.Truncated)
	}
}

func TestAMalformedLineInTheMiddleIsAnErrorWithItsLine(t *testing.T) {
	in := "{\"ev\":\"header\",\"header\":{}}\nnot json\n{\"ev\":\"invoke\"}\n"
	_, err := Read(strings.NewReader(in))
	if err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("got %v", err)
	}
}

func FuzzReadNeverPanics(f *testing.F) {
	f.Add([]byte(`{"t":0,"ev":"header","header":{"seed":3}}` + "\n" + `{"t":5,"ev":"invoke","id":1,"op":"cs"}` + "\n"))
	f.Add([]byte(`{"t":9,"ev":"ok","id":1,"op":"cs","re`))
	f.Add([]byte("\n\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := Read(bytes.NewReader(data))
		if err == nil && h == nil {
			t.Fatal("nil history without error")
		}
	})
}
