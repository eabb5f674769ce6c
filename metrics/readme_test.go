package metrics

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// kinds maps every metric the collectors send to its type, as the README
// names it.
func kinds() map[string]string {
	out := map[string]string{}
	kind := func(k prometheus.ValueType) string {
		if k == prometheus.CounterValue {
			return "counter"
		}
		return "gauge"
	}
	add := func(prefix, name string, k prometheus.ValueType) { out[prefix+name] = kind(k) }
	for _, f := range subFeed {
		add(subPrefix, f.name, f.kind)
	}
	for _, f := range subLines {
		add(subPrefix, f.name, f.kind)
	}
	for _, f := range subUDPLines {
		add(subPrefix, f.name, f.kind)
	}
	for _, f := range subWorkers {
		add(subPrefix, f.name, f.kind)
	}
	for _, f := range subRecovery {
		add(subPrefix, f.name, f.kind)
	}
	for _, f := range pubFeed {
		add(pubPrefix, f.name, f.kind)
	}
	for _, f := range pubLines {
		add(pubPrefix, f.name, f.kind)
	}
	for _, f := range cacheStats {
		add(cachePrefix, f.name, f.kind)
	}
	out[subPrefix+"latency_seconds"] = "histogram"
	for _, info := range []string{subPrefix + "info", pubPrefix + "info", cachePrefix + "info"} {
		out[info] = "gauge"
	}
	out[pubPrefix+"input_errors_total"] = "counter"
	return out
}

var readmeRow = regexp.MustCompile("^\\| `(feedbus_[a-z_]+)` \\| ([a-z]+) \\| ([a-z, ]+) \\|")

// The README's Metrics section names every metric, with its type, and
// nothing else.
func TestREADMEListsEveryMetric(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	start := strings.Index(text, "\n## Metrics\n")
	if start < 0 {
		t.Fatal("no section Metrics in the README")
	}
	section := text[start+1:]
	if end := strings.Index(section[3:], "\n## "); end >= 0 {
		section = section[:end+3]
	}
	code := kinds()
	for _, names := range [][]string{subscriberNames(), publisherNames(), cacheNames()} {
		for _, n := range names {
			if _, ok := code[n]; !ok {
				t.Fatalf("kinds() lacks %s", n)
			}
		}
	}
	documented := map[string]bool{}
	for _, line := range strings.Split(section, "\n") {
		m := readmeRow.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		name, kind := m[1], m[2]
		documented[name] = true
		switch want, ok := code[name]; {
		case !ok:
			t.Errorf("the README documents %s, which no collector sends", name)
		case kind != want:
			t.Errorf("the README says %s is a %s; it is a %s", name, kind, want)
		}
		if labels := strings.Split(m[3], ", "); !slices.Contains(labels, "stream") {
			t.Errorf("the README lists %s without its stream label", name)
		}
	}
	for name := range code {
		if !documented[name] {
			t.Errorf("%s is not in the README's Metrics section", name)
		}
	}
}
