package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"strings"
)

// The report's markers in the results file; a rerun replaces what is
// between them.
const (
	beginMarker = "<!-- feedbench -->"
	endMarker   = "<!-- /feedbench -->"
)

// resultsHeader opens a results file that feedbench creates.
const resultsHeader = "# feedbus benchmark results\n"

// Earlier versions of feedbench wrote a header and one section per size;
// updateFile replaces them with the suite's section.
const legacyHeading = "## Throughput: feedbus against a bare ZeroMQ pair"

var legacyBegin = regexp.MustCompile(`<!-- feedbench:throughput size=(\d+) -->`)

// updateFile puts section (markers included) into the file at path: in
// place of the text between the markers, or of what earlier versions of
// feedbench wrote, or at the end. Nothing else in the file changes. A
// missing file is created with resultsHeader.
func updateFile(path, section string) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		b, err = []byte(resultsHeader), nil
	}
	if err != nil {
		return fmt.Errorf("reading results: %w", err)
	}
	doc, err := replaceSection(string(b), section)
	if err != nil {
		return fmt.Errorf("results %s: %w", path, err)
	}
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		return fmt.Errorf("writing results: %w", err)
	}
	return nil
}

func replaceSection(doc, section string) (string, error) {
	section = strings.TrimRight(section, "\n")
	placed := false
	put := func(i, j int) {
		ins := ""
		if !placed {
			ins, placed = section, true
		}
		doc = splice(doc, i, j, ins)
	}
	if i := strings.Index(doc, beginMarker); i >= 0 {
		j := strings.Index(doc[i:], endMarker)
		if j < 0 {
			return "", fmt.Errorf("%q without %q; fix or remove it", beginMarker, endMarker)
		}
		put(i, i+j+len(endMarker))
	} else if strings.Contains(doc, endMarker) {
		return "", fmt.Errorf("%q without %q; fix or remove it", endMarker, beginMarker)
	}
	if h := strings.Index(doc, legacyHeading); h >= 0 {
		// The old header runs to the next marker or section heading.
		e := len(doc)
		if k := strings.Index(doc[h+len(legacyHeading):], "<!--"); k >= 0 {
			e = min(e, h+len(legacyHeading)+k)
		}
		if k := strings.Index(doc[h+len(legacyHeading):], "\n## "); k >= 0 {
			e = min(e, h+len(legacyHeading)+k)
		}
		put(h, e)
	}
	for {
		m := legacyBegin.FindStringSubmatchIndex(doc)
		if m == nil {
			break
		}
		end := "<!-- /feedbench:throughput size=" + doc[m[2]:m[3]] + " -->"
		j := strings.Index(doc[m[1]:], end)
		if j < 0 {
			return "", fmt.Errorf("%q without %q; fix or remove it", doc[m[0]:m[1]], end)
		}
		put(m[0], m[1]+j+len(end))
	}
	if !placed {
		put(len(doc), len(doc))
	}
	return doc, nil
}

// splice replaces doc[i:j] with ins, keeping one blank line between ins
// and the text around it (none at the very start) and ending the document
// with one newline.
func splice(doc string, i, j int, ins string) string {
	before := strings.TrimRight(doc[:i], "\n")
	after := strings.TrimLeft(doc[j:], "\n")
	var parts []string
	for _, s := range []string{before, ins, after} {
		if s != "" {
			parts = append(parts, s)
		}
	}
	out := strings.Join(parts, "\n\n")
	if !strings.HasSuffix(out, "\n") {
		out += "\n"
	}
	return out
}
