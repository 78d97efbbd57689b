package history

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
)

// History is a history read back from disk.
type History struct {
	Header Header
	Events []Event
	// Truncated describes a last line that was cut off (a crash mid-write); it was skipped.
	Truncated string
}

// ReadFile reads a history file.
func ReadFile(path string) (*History, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	defer f.Close()
	h, err := Read(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return h, nil
}

// Read parses a history. A malformed line is an error naming its line number, except the very last line when
// it has no newline: that is what a crash mid-write leaves, so it is skipped and reported in Truncated.
func Read(r io.Reader) (*History, error) {
	br := bufio.NewReaderSize(r, 1<<20)
	h := &History{}
	line := 0
	for {
		b, err := br.ReadBytes('\n')
		if len(b) == 0 && err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, err
		}
		line++
		complete := len(b) > 0 && b[len(b)-1] == '\n'
		b = bytes.TrimSpace(b)
		if len(b) == 0 {
			continue
		}
		var e Event
		if uerr := json.Unmarshal(b, &e); uerr != nil {
			if !complete {
				h.Truncated = fmt.Sprintf("line %d: cut off after %d bytes, skipped", line, len(b))
				break
			}
			return nil, fmt.Errorf("line %d: %v", line, uerr)
		}
		if e.Ev == EvHeader {
			if e.Header == nil {
				return nil, fmt.Errorf("line %d: header without fields", line)
			}
			h.Header = *e.Header
			continue
		}
		if e.Ev == "" {
			return nil, fmt.Errorf("line %d: event without \"ev\"", line)
		}
		h.Events = append(h.Events, e)
		if err != nil {
			break
		}
	}
	if line == 0 {
		return nil, errors.New("empty history")
	}
	return h, nil
}
