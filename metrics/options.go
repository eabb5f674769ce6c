package metrics

import (
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
)

// ErrOption marks a collector option that was refused.
var ErrOption = errors.New("metrics: bad option")

// Option configures a collector. Each checks its own value; the
// constructor returns the first error, wrapping ErrOption.
type Option func(*options) error

type options struct {
	labels prometheus.Labels
}

// reservedLabels are the collectors' own labels.
var reservedLabels = []string{"stream", "line", "worker", "session"}

// WithLabels adds constant labels to every metric of the collector: to
// tell apart two subscribers of one process (feed="equities"), say.
func WithLabels(labels prometheus.Labels) Option {
	return func(o *options) error {
		for _, name := range slices.Sorted(maps.Keys(labels)) {
			switch {
			case !model.LabelName(name).IsValidLegacy():
				return fmt.Errorf("%w: label name %q: want letters, digits and underscores, not starting with a digit", ErrOption, name)
			case len(name) >= 2 && name[:2] == "__":
				return fmt.Errorf("%w: label name %q: names starting with __ are Prometheus's", ErrOption, name)
			case slices.Contains(reservedLabels, name):
				return fmt.Errorf("%w: label name %q: the collectors set it themselves", ErrOption, name)
			}
		}
		if o.labels == nil {
			o.labels = prometheus.Labels{}
		}
		maps.Copy(o.labels, labels)
		return nil
	}
}

func applyOptions(opts []Option) (options, error) {
	var o options
	for _, opt := range opts {
		if opt == nil {
			return o, fmt.Errorf("%w: nil option", ErrOption)
		}
		if err := opt(&o); err != nil {
			return o, err
		}
	}
	return o, nil
}
