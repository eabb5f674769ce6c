package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const legacyDoc = `# feedbus benchmark results

## Throughput: feedbus against a bare ZeroMQ pair

**What is measured.** old text

<!-- feedbench:throughput size=64 -->
### 64-byte messages
old 64
<!-- /feedbench:throughput size=64 -->

<!-- feedbench:throughput size=1024 -->
### 1024-byte messages
old 1024
<!-- /feedbench:throughput size=1024 -->

<!-- failover -->
## Failover

Someone else's numbers.
<!-- /failover -->
`

const failover = "<!-- failover -->\n## Failover\n\nSomeone else's numbers.\n<!-- /failover -->\n"

func TestReplaceSectionMigratesTheOldLayout(t *testing.T) {
	sec := beginMarker + "\nNEW\n" + endMarker + "\n"
	got, err := replaceSection(legacyDoc, sec)
	if err != nil {
		t.Fatal(err)
	}
	want := "# feedbus benchmark results\n\n" + beginMarker + "\nNEW\n" + endMarker + "\n\n" + failover
	if got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	// A rerun replaces the section in place and leaves the rest alone.
	again, err := replaceSection(got, beginMarker+"\nNEWER\n"+endMarker)
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.Replace(want, "NEW", "NEWER", 1); again != want {
		t.Fatalf("rerun: got\n%s\nwant\n%s", again, want)
	}
}

func TestReplaceSectionKeepsOthersAroundIt(t *testing.T) {
	doc := "# results\n\n<!-- fanout -->\nA\n<!-- /fanout -->\n\n" + beginMarker + "\nold\n" + endMarker + "\n\n" + failover
	got, err := replaceSection(doc, beginMarker+"\nnew\n"+endMarker)
	if err != nil {
		t.Fatal(err)
	}
	want := "# results\n\n<!-- fanout -->\nA\n<!-- /fanout -->\n\n" + beginMarker + "\nnew\n" + endMarker + "\n\n" + failover
	if got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	// Without markers the section is appended.
	got, err = replaceSection("# results\n\n"+failover, beginMarker+"\nnew\n"+endMarker)
	if err != nil {
		t.Fatal(err)
	}
	if want := "# results\n\n" + failover + "\n" + beginMarker + "\nnew\n" + endMarker + "\n"; got != want {
		t.Fatalf("append: got\n%s\nwant\n%s", got, want)
	}
}

func TestReplaceSectionRefusesBrokenMarkers(t *testing.T) {
	for _, doc := range []string{
		"x\n" + beginMarker + "\nno end\n",
		"x\n" + endMarker + "\n",
		"x\n<!-- feedbench:throughput size=64 -->\nno end\n",
	} {
		if _, err := replaceSection(doc, beginMarker+"\n"+endMarker); err == nil {
			t.Errorf("no error for %q", doc)
		}
	}
}

func TestUpdateFileCreates(t *testing.T) {
	path := filepath.Join(t.TempDir(), "RESULTS.md")
	if err := updateFile(path, beginMarker+"\nS\n"+endMarker+"\n"); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	if want := resultsHeader + "\n" + beginMarker + "\nS\n" + endMarker + "\n"; string(b) != want {
		t.Fatalf("got %q, want %q", b, want)
	}
}
