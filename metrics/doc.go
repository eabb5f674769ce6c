// Package metrics serves feedbus's counters to Prometheus: collectors for a
// Subscriber, a Publisher and a recovery server (package cache), a registry
// with the Go runtime's and the process's collectors, and an HTTP server of
// /metrics. feedpub, feedsub and feedcache use it for --metrics; an
// application registers the same collectors with its own registry.
//
// Collecting adds nothing to the per-message path: a collector reads, at
// scrape time, counters that the publisher, subscriber and cache keep
// anyway. A subscriber's receive loop copies its counts once a status
// interval (feedbus.Subscriber.Counters), so a scrape sees them as of the
// last interval; after the subscriber's Summary, exactly the summary's.
// The metrics, their types and labels are listed in the README, section
// Metrics.
//
// # Concurrency and lifetime
//
// The collectors are safe for concurrent scrapes, from any goroutine, for
// as long as what they read exists: a closed Subscriber, Publisher or
// cache Server still answers with its final counts. They hold no
// goroutine or resource of their own.
//
// Serve starts one goroutine, the HTTP server's, and returns once it
// listens. Server.Close stops it, waits for it, and is idempotent and safe
// from any goroutine.
package metrics
