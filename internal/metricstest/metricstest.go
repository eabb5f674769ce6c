// Package metricstest reads metrics in tests the way Prometheus does: it
// scrapes /metrics over HTTP and parses the text with the official parser
// (expfmt), or gathers a registry directly.
package metricstest

import (
	"fmt"
	"net/http"
	"regexp"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Families are the metric families of one scrape, by name.
type Families map[string]*dto.MetricFamily

var client = &http.Client{Timeout: 10 * time.Second}

// Scrape GETs url and parses the text exposition format.
func Scrape(url string) (Families, error) { return ScrapeWith(client, url) }

// ScrapeWith is Scrape with the caller's client (one that dials into a
// lab host's network namespace, say).
func ScrapeWith(c *http.Client, url string) (Families, error) {
	resp, err := c.Get(url)
	if err != nil {
		return nil, fmt.Errorf("scrape: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scrape %s: %s", url, resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: parsing: %w", url, err)
	}
	return fams, nil
}

// Gather gathers g, as a scrape of it would see it.
func Gather(g prometheus.Gatherer) (Families, error) {
	list, err := g.Gather()
	if err != nil {
		return nil, err
	}
	fams := Families{}
	for _, f := range list {
		fams[f.GetName()] = f
	}
	return fams, nil
}

// Metric returns the sample of family name whose labels include every
// name, value pair of labels, if there is one.
func (f Families) Metric(name string, labels ...string) (*dto.Metric, bool) {
	fam, ok := f[name]
	if !ok {
		return nil, false
	}
	for _, m := range fam.GetMetric() {
		if hasLabels(m, labels) {
			return m, true
		}
	}
	return nil, false
}

// Value returns a counter's, gauge's or untyped sample's value (a
// histogram's count), and whether the sample is there.
func (f Families) Value(name string, labels ...string) (float64, bool) {
	m, ok := f.Metric(name, labels...)
	switch {
	case !ok:
		return 0, false
	case m.Counter != nil:
		return m.Counter.GetValue(), true
	case m.Gauge != nil:
		return m.Gauge.GetValue(), true
	case m.Untyped != nil:
		return m.Untyped.GetValue(), true
	case m.Histogram != nil:
		return float64(m.Histogram.GetSampleCount()), true
	}
	return 0, false
}

func hasLabels(m *dto.Metric, labels []string) bool {
	for i := 0; i+1 < len(labels); i += 2 {
		found := false
		for _, lp := range m.GetLabel() {
			if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// announced matches the line the binaries print when --metrics serves.
var announced = regexp.MustCompile(`metrics on (http://\S+/metrics)`)

// URL returns the /metrics URL a binary announced in its stderr text, or
// "" if it has not yet.
func URL(stderr string) string {
	if m := announced.FindStringSubmatch(stderr); m != nil {
		return m[1]
	}
	return ""
}

// Last is a program's last scrape, taken by a hook on the program's
// goroutine at its end, of a URL the test learns meanwhile.
type Last struct {
	mu   sync.Mutex
	url  string
	fams Families
	err  error
}

// SetURL says where to scrape.
func (l *Last) SetURL(url string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.url = url
}

// Scrape scrapes the URL; it is the hook.
func (l *Last) Scrape() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.url == "" {
		l.err = fmt.Errorf("scrape: no URL yet")
		return
	}
	l.fams, l.err = Scrape(l.url)
}

// Result returns the scrape, or why there is none.
func (l *Last) Result() (Families, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fams == nil && l.err == nil {
		return nil, fmt.Errorf("scrape: the program never took its last scrape")
	}
	return l.fams, l.err
}
