// Package dashboard checks the Grafana dashboard in docs/: that Grafana's
// dashboard schema takes it, that every panel and query names its data
// source, that its queries are PromQL, and that every metric they use is
// one the README documents.
package dashboard

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	grafana "github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

// MinSchemaVersion is the oldest dashboard schema accepted: Grafana 10.4's,
// which 11 and 12 migrate on load.
const MinSchemaVersion = 39

// Data source references a panel may use: the dashboard's data source
// variable, or the input Grafana's import asks for.
var dataSources = []string{"${datasource}", "${DS_PROMETHEUS}"}

// metricName matches the metric names of feedbus and of the Go and process
// collectors in prose.
var metricName = regexp.MustCompile(`\b(?:feedbus|process|go)_[a-z0-9_]*[a-z0-9]\b`)

// DocumentedMetrics returns the metric names written in the section of the
// markdown doc under the heading whose text is heading, up to the next
// heading of the same level or higher (outside code blocks, where a shell
// comment looks like one).
func DocumentedMetrics(doc, heading string) (map[string]bool, error) {
	lines := strings.Split(doc, "\n")
	start, level := -1, 0
	fenced := false
	for i, l := range lines {
		if strings.HasPrefix(l, "```") {
			fenced = !fenced
		}
		hashes := len(l) - len(strings.TrimLeft(l, "#"))
		if fenced || hashes == 0 || !strings.HasPrefix(l[hashes:], " ") {
			continue
		}
		switch {
		case start < 0 && strings.TrimSpace(l[hashes:]) == heading:
			start, level = i, hashes
		case start >= 0 && hashes <= level:
			return namesIn(lines[start:i]), nil
		}
	}
	if start < 0 {
		return nil, fmt.Errorf("no section %q", heading)
	}
	return namesIn(lines[start:]), nil
}

func namesIn(lines []string) map[string]bool {
	names := map[string]bool{}
	for _, l := range lines {
		for _, n := range metricName.FindAllString(l, -1) {
			names[n] = true
		}
	}
	return names
}

// panel is what Check reads of a panel, rows' panels included.
type panel struct {
	ID         int             `json:"id"`
	Type       string          `json:"type"`
	Title      string          `json:"title"`
	Datasource *dataSourceRef  `json:"datasource"`
	Targets    []target        `json:"targets"`
	Panels     []panel         `json:"panels"`
	GridPos    json.RawMessage `json:"gridPos"`
}

type target struct {
	RefID      string         `json:"refId"`
	Expr       string         `json:"expr"`
	Datasource *dataSourceRef `json:"datasource"`
}

type dataSourceRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type variable struct {
	Name       string          `json:"name"`
	Type       string          `json:"type"`
	Query      json.RawMessage `json:"query"`
	Datasource *dataSourceRef  `json:"datasource"`
}

type model struct {
	Inputs []struct {
		Name     string `json:"name"`
		Type     string `json:"type"`
		PluginID string `json:"pluginId"`
	} `json:"__inputs"`
	SchemaVersion int     `json:"schemaVersion"`
	Panels        []panel `json:"panels"`
	Templating    struct {
		List []variable `json:"list"`
	} `json:"templating"`
}

// Check returns what is wrong with the dashboard JSON raw, whose queries
// may use the documented metric names (a histogram's with its _bucket,
// _sum and _count series) and Prometheus's own up.
func Check(raw []byte, documented map[string]bool) []error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if err := checkSchema(raw); err != nil {
		add("Grafana's dashboard schema refuses it: %w", err)
	}
	var m model
	if err := json.Unmarshal(raw, &m); err != nil {
		return append(errs, fmt.Errorf("not a dashboard: %w", err))
	}
	if m.SchemaVersion < MinSchemaVersion {
		add("schemaVersion %d, want %d or later", m.SchemaVersion, MinSchemaVersion)
	}
	if len(m.Inputs) != 1 || m.Inputs[0].Name != "DS_PROMETHEUS" || m.Inputs[0].Type != "datasource" || m.Inputs[0].PluginID != "prometheus" {
		add("__inputs %+v, want the one Prometheus data source DS_PROMETHEUS", m.Inputs)
	}

	known := func(name string) bool {
		if documented[name] || name == "up" {
			return true
		}
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if base, ok := strings.CutSuffix(name, suffix); ok && documented[base] {
				return true
			}
		}
		return false
	}
	useNames := func(where string, names []string, err error) {
		if err != nil {
			add("%s: %w", where, err)
		}
		for _, n := range names {
			if !known(n) {
				add("%s: metric %s is not documented", where, n)
			}
		}
	}

	vars := map[string]variable{}
	for _, v := range m.Templating.List {
		vars[v.Name] = v
	}
	if v, ok := vars["datasource"]; !ok || v.Type != "datasource" || string(v.Query) != `"prometheus"` {
		add("no data source variable \"datasource\" of Prometheus data sources")
	}
	for _, name := range []string{"job", "instance"} {
		v, ok := vars[name]
		if !ok {
			add("no variable %q", name)
			continue
		}
		if !isDataSource(v.Datasource) {
			add("variable %s: data source %+v, want one of %v", name, v.Datasource, dataSources)
		}
		names, err := labelValuesMetrics(v.Query)
		useNames("variable "+name, names, err)
	}

	ids := map[int]string{}
	var walk func(ps []panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			where := fmt.Sprintf("panel %d %q", p.ID, p.Title)
			if prev, dup := ids[p.ID]; dup {
				add("%s: id also used by %q", where, prev)
			}
			ids[p.ID] = p.Title
			if len(p.GridPos) == 0 {
				add("%s: no gridPos", where)
			}
			if p.Type == "row" {
				walk(p.Panels)
				continue
			}
			if !isDataSource(p.Datasource) {
				add("%s: data source %+v, want one of %v", where, p.Datasource, dataSources)
			}
			if len(p.Targets) == 0 {
				add("%s: no queries", where)
			}
			for _, t := range p.Targets {
				w := fmt.Sprintf("%s query %s", where, t.RefID)
				if !isDataSource(t.Datasource) {
					add("%s: data source %+v, want one of %v", w, t.Datasource, dataSources)
				}
				names, err := exprMetrics(t.Expr)
				useNames(w, names, err)
			}
		}
	}
	walk(m.Panels)
	return errs
}

// checkSchema decodes the dashboard strictly with Grafana's own schema
// (the foundation SDK, generated from Grafana's kinds), panel options and
// Prometheus queries included, and validates it. The import-only keys
// (__inputs, __requires) are not part of the dashboard model.
func checkSchema(raw []byte) error {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return err
	}
	delete(fields, "__inputs")
	delete(fields, "__requires")
	b, err := json.Marshal(fields)
	if err != nil {
		return err
	}
	plugins.RegisterDefaultPlugins()
	var d grafana.Dashboard
	if err := sdkError(d.UnmarshalJSONStrict(b)); err != nil {
		return err
	}
	return sdkError(d.Validate())
}

// sdkError turns the SDK's empty error list, which it returns as a non-nil
// error, into nil.
func sdkError(err error) error {
	var list cog.BuildErrors
	if errors.As(err, &list) && len(list) == 0 {
		return nil
	}
	return err
}

func isDataSource(ref *dataSourceRef) bool {
	if ref == nil || ref.Type != "prometheus" {
		return false
	}
	for _, uid := range dataSources {
		if ref.UID == uid {
			return true
		}
	}
	return false
}

// grafanaIntervals are the interval macros Grafana replaces in queries;
// a duration stands in for each so that the PromQL parser takes them.
var grafanaIntervals = strings.NewReplacer("$__rate_interval", "1m", "$__interval", "1m", "$__range", "1m")

// exprMetrics parses a PromQL query and returns the metric names it selects.
func exprMetrics(expr string) ([]string, error) {
	if strings.TrimSpace(expr) == "" {
		return nil, errors.New("empty query")
	}
	e, err := parser.NewParser(parser.Options{}).ParseExpr(grafanaIntervals.Replace(expr))
	if err != nil {
		return nil, fmt.Errorf("PromQL: %w", err)
	}
	var names []string
	var bad error
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			name, err := selectorName(vs.Name, vs.LabelMatchers)
			if err != nil {
				bad = err
				return nil
			}
			names = append(names, name)
		}
		return nil
	})
	return names, bad
}

// labelValues is a Grafana variable query label_values(SELECTOR, LABEL).
var labelValues = regexp.MustCompile(`^label_values\((.+),\s*[a-zA-Z_][a-zA-Z0-9_]*\)$`)

// labelValuesMetrics returns the metric a variable's label_values query
// selects; the query is a string or an object holding it in "query".
func labelValuesMetrics(raw json.RawMessage) ([]string, error) {
	var q string
	if err := json.Unmarshal(raw, &q); err != nil {
		var obj struct {
			Query string `json:"query"`
		}
		if err := json.Unmarshal(raw, &obj); err != nil {
			return nil, fmt.Errorf("query %s: %w", raw, err)
		}
		q = obj.Query
	}
	m := labelValues.FindStringSubmatch(strings.TrimSpace(q))
	if m == nil {
		return nil, fmt.Errorf("query %q is not label_values(SELECTOR, LABEL)", q)
	}
	matchers, err := parser.NewParser(parser.Options{}).ParseMetricSelector(m[1])
	if err != nil {
		return nil, fmt.Errorf("query %q: %w", q, err)
	}
	name, err := selectorName("", matchers)
	if err != nil {
		return nil, fmt.Errorf("query %q: %w", q, err)
	}
	return []string{name}, nil
}

// selectorName returns the metric a selector names, by name or by an
// equality matcher on __name__.
func selectorName(name string, matchers []*labels.Matcher) (string, error) {
	if name != "" {
		return name, nil
	}
	for _, m := range matchers {
		if m.Name == labels.MetricName && m.Type == labels.MatchEqual {
			return m.Value, nil
		}
	}
	return "", errors.New("a selector without a metric name")
}
