package report

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Write renders the report for in as one self-contained HTML page. It reads the history once, so it is cheap
// enough to run after every check (about a second for 100k operations).
func Write(w io.Writer, in Input) error {
	ops := in.operations()
	tl := drawTimeline(in.History, ops, in.Violations)
	tl.Stuck = buildStuck(in.Stuck, tl.End)
	buildNodeLanes(tl, in.Nodes, in.Violations)
	p, err := newPage(in, tl, writtenSections(ops))
	if err != nil {
		return err
	}
	blob, err := encodeBlob(make([]byte, 0, 64*(len(tl.CS)+len(tl.Acquires)+len(tl.Extends)+len(tl.Releases)+len(tl.Leases))+40*len(tl.Holds)+4096), tl)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	bw := bufio.NewWriterSize(w, 1<<16)
	if err := pageTemplate.ExecuteTemplate(bw, "head", p); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	bw.WriteString(`<script type="application/json" id="timeline-data">`)
	bw.Write(blob)
	bw.WriteString("</script>\n")
	if err := pageTemplate.ExecuteTemplate(bw, "tail", p); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return bw.Flush()
}

// WriteFile writes the report to path through a temporary file in the same directory, renamed into place, so
// that a reader never sees half a page.
func WriteFile(path string, in Input) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), ".report-*.html")
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err = Write(f, in); err != nil {
		return err
	}
	if err = f.Chmod(0o644); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}
