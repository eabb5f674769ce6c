package metrics

import "github.com/prometheus/client_golang/prometheus"

// family is one metric: its name, help and type, and how it is read from
// a source value of type T (the counters of a subscriber, of a line, of a
// worker...). The collectors keep tables of them.
type family[T any] struct {
	name  string
	help  string
	kind  prometheus.ValueType
	value func(T) float64
	desc  *prometheus.Desc // set by describe
}

// Shorthands for the tables.
const (
	counter = prometheus.CounterValue
	gauge   = prometheus.GaugeValue
)

// describe returns the table with each family's Desc, under prefix, with
// the variable labels and the options' constant ones.
func describe[T any](table []family[T], prefix string, labels []string, o options) []family[T] {
	out := make([]family[T], len(table))
	for i, f := range table {
		f.desc = prometheus.NewDesc(prefix+f.name, f.help, labels, o.labels)
		out[i] = f
	}
	return out
}

func sendDescs[T any](table []family[T], ch chan<- *prometheus.Desc) {
	for _, f := range table {
		ch <- f.desc
	}
}

// collect sends every family's value read from v, with the label values.
func collect[T any](table []family[T], v T, ch chan<- prometheus.Metric, labelValues ...string) {
	for _, f := range table {
		ch <- prometheus.MustNewConstMetric(f.desc, f.kind, f.value(v), labelValues...)
	}
}

// Names returns the full names of the metrics in tables, for the
// documentation's check.
func names[T any](prefix string, table []family[T]) []string {
	out := make([]string, len(table))
	for i, f := range table {
		out[i] = prefix + f.name
	}
	return out
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
