package feedbus

import "sync/atomic"

// WithWallSkew makes the receive loop add skew to every wall-clock reading,
// as a clock step would, leaving its monotonic clock alone.
func WithWallSkew(skew *atomic.Int64) SubscriberOption {
	return func(c *subscriberConfig) error { c.wallSkew = skew; return nil }
}
