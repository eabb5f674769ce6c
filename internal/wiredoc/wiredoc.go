// Package wiredoc reads the hex dumps of docs/wire.md, so that the tests of
// the packages it specifies (bus, auth) can pin its worked examples byte for
// byte and fail when the document drifts from the code.
package wiredoc

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
)

// HexBlocks returns the hex dumps in the ``` blocks of the section of the
// document at path whose heading contains key, in order. A section runs
// from its heading to the next heading of the same or a higher level. A
// dump line is a 4-digit hex offset, two spaces and 1 to 16 hex bytes; the
// offsets must count the bytes, so a line cannot go missing unnoticed.
func HexBlocks(t testing.TB, path, key string) [][]byte {
	t.Helper()
	doc, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var blocks [][]byte
	level := 0 // heading level of the section being read; 0 before it
	inBlock := false
	var cur []byte
	sc := bufio.NewScanner(bytes.NewReader(doc))
	for lineNo := 1; sc.Scan(); lineNo++ {
		line := sc.Text()
		if strings.HasPrefix(line, "```") {
			if level > 0 {
				if inBlock {
					blocks = append(blocks, cur)
				}
				cur = nil
			}
			inBlock = !inBlock
			continue
		}
		if !inBlock && strings.HasPrefix(line, "#") {
			l := len(line) - len(strings.TrimLeft(line, "#"))
			switch {
			case level == 0 && strings.Contains(line, key):
				level = l
				continue
			case level > 0 && l <= level:
				return blocks
			}
		}
		if level == 0 || !inBlock {
			continue
		}
		off, rest, ok := strings.Cut(line, "  ")
		if !ok || len(off) != 4 {
			t.Fatalf("%s:%d: not a hex dump line: %q", path, lineNo, line)
		}
		if n, err := strconv.ParseUint(off, 16, 32); err != nil || int(n) != len(cur) {
			t.Fatalf("%s:%d: offset %s, want %04x", path, lineNo, off, len(cur))
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 || len(fields) > 16 {
			t.Fatalf("%s:%d: %d bytes on a dump line, want 1 to 16", path, lineNo, len(fields))
		}
		for _, f := range fields {
			b, err := hex.DecodeString(f)
			if err != nil || len(b) != 1 {
				t.Fatalf("%s:%d: bad byte %q", path, lineNo, f)
			}
			cur = append(cur, b[0])
		}
	}
	if level == 0 {
		t.Fatalf("%s: no heading contains %q", path, key)
	}
	return blocks
}

// Dump formats b as the document writes a dump, so a failing test prints
// what to paste.
func Dump(b []byte) string {
	var s strings.Builder
	for i := 0; i < len(b); i += 16 {
		fmt.Fprintf(&s, "%04x ", i)
		for _, c := range b[i:min(i+16, len(b))] {
			fmt.Fprintf(&s, " %02x", c)
		}
		s.WriteByte('\n')
	}
	return s.String()
}
