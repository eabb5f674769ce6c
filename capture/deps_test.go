package capture_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoGopacket keeps gopacket out of every binary that only writes
// captures. gopacket/layers, which pcapgo imports, fills about 5 MB of
// pointer-holding global tables at init, which the GC scans every cycle:
// linking it doubled feedsub's heap goal and took its peak RSS from 21 to
// 38 MB, capture or not. Reading captures (package replay) may use it.
func TestNoGopacket(t *testing.T) {
	gotool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go tool not found")
	}
	for _, pkg := range []string{
		"github.com/feedbus/feedbus/capture",
		"github.com/feedbus/feedbus/cmd/feedsub",
	} {
		t.Run(pkg[strings.LastIndex(pkg, "/")+1:], func(t *testing.T) {
			// Each dependency with its imports, to name the importer.
			cmd := exec.Command(gotool, "list", "-deps", "-f", "{{.ImportPath}}{{range .Imports}} {{.}}{{end}}", pkg)
			out, err := cmd.Output()
			if err != nil {
				stderr := ""
				if ee, ok := err.(*exec.ExitError); ok {
					stderr = string(ee.Stderr)
				}
				t.Fatalf("%v: %v\n%s", cmd, err, stderr)
			}
			deps := strings.Split(strings.TrimSpace(string(out)), "\n")
			if len(deps) < 2 {
				t.Fatalf("go list -deps %s listed %q", pkg, deps)
			}
			var linked, via []string
			for _, line := range deps {
				path, imports, _ := strings.Cut(line, " ")
				if strings.Contains(path, "gopacket") {
					linked = append(linked, path)
					continue
				}
				for imp := range strings.FieldsSeq(imports) {
					if strings.Contains(imp, "gopacket") {
						via = append(via, path+" imports "+imp)
					}
				}
			}
			if len(linked) > 0 {
				t.Errorf("%s depends on %s (%s)", pkg, strings.Join(linked, ", "), strings.Join(via, "; "))
			}
		})
	}
}
