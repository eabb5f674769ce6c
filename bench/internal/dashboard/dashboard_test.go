package dashboard

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The repository's root, from bench/internal/dashboard.
const root = "../../.."

const dashboardPath = root + "/docs/grafana-dashboard.json"

// metricsHeading is the README section that names every metric.
const metricsHeading = "Metrics"

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func documented(t *testing.T) map[string]bool {
	t.Helper()
	names, err := DocumentedMetrics(string(readFile(t, filepath.Join(root, "README.md"))), metricsHeading)
	if err != nil {
		t.Fatalf("README.md: %v", err)
	}
	return names
}

// TestDashboard checks docs/grafana-dashboard.json against Grafana's
// schema and the README's metrics.
func TestDashboard(t *testing.T) {
	for _, err := range Check(readFile(t, dashboardPath), documented(t)) {
		t.Error(err)
	}
}

// TestCheckCatches breaks the real dashboard in one way at a time: Check
// must name each break.
func TestCheckCatches(t *testing.T) {
	names := documented(t)
	for _, tc := range []struct {
		name   string
		mutate func(d map[string]any)
		want   string
	}{
		{"panel without data source", func(d map[string]any) { delete(firstPanel(d), "datasource") }, "data source <nil>"},
		{"query of another data source", func(d map[string]any) {
			firstPanel(d)["targets"].([]any)[0].(map[string]any)["datasource"] = map[string]any{"type": "loki", "uid": "x"}
		}, "query A: data source"},
		{"undocumented metric", func(d map[string]any) {
			firstPanel(d)["targets"].([]any)[0].(map[string]any)["expr"] = `rate(feedbus_sub_recieved_total[$__rate_interval])`
		}, "metric feedbus_sub_recieved_total is not documented"},
		{"not PromQL", func(d map[string]any) {
			firstPanel(d)["targets"].([]any)[0].(map[string]any)["expr"] = `sum(rate(feedbus_sub_received_total[5m])`
		}, "PromQL"},
		{"unknown panel field", func(d map[string]any) { firstPanel(d)["gridpos"] = map[string]any{} }, "schema refuses"},
		{"old schema", func(d map[string]any) { d["schemaVersion"] = 27 }, "schemaVersion 27"},
		{"no job variable", func(d map[string]any) {
			tpl := d["templating"].(map[string]any)
			tpl["list"] = tpl["list"].([]any)[:1]
		}, `no variable "job"`},
		{"no input", func(d map[string]any) { delete(d, "__inputs") }, "DS_PROMETHEUS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var d map[string]any
			if err := json.Unmarshal(readFile(t, dashboardPath), &d); err != nil {
				t.Fatal(err)
			}
			tc.mutate(d)
			raw, err := json.Marshal(d)
			if err != nil {
				t.Fatal(err)
			}
			var all []string
			for _, err := range Check(raw, names) {
				all = append(all, err.Error())
			}
			if !strings.Contains(strings.Join(all, "\n"), tc.want) {
				t.Errorf("Check = %q, want an error containing %q", all, tc.want)
			}
		})
	}
}

// firstPanel returns the dashboard's first panel that is not a row.
func firstPanel(d map[string]any) map[string]any {
	for _, p := range d["panels"].([]any) {
		if p := p.(map[string]any); p["type"] != "row" {
			return p
		}
	}
	panic("no panel")
}

func TestDocumentedMetrics(t *testing.T) {
	doc := "# x\n\nfeedbus_outside_total\n\n## Metrics\n\n```yaml\n# prometheus.yml\n```\n\n| `feedbus_sub_received_total` | first copies |\n" +
		"`feedbus_sub_latency_seconds` (histogram), process_cpu_seconds_total.\n\n### Latency\n\nfeedbus_sub_pending\n\n## Next\n\nfeedbus_after_total\n"
	got, err := DocumentedMetrics(doc, "Metrics")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"feedbus_sub_received_total", "feedbus_sub_latency_seconds", "process_cpu_seconds_total", "feedbus_sub_pending"}
	if len(got) != len(want) {
		t.Errorf("DocumentedMetrics = %v, want %v", got, want)
	}
	for _, n := range want {
		if !got[n] {
			t.Errorf("DocumentedMetrics = %v: no %s", got, n)
		}
	}
	if _, err := DocumentedMetrics(doc, "Metric"); err == nil {
		t.Error("no error for a missing section")
	}
}
