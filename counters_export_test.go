package feedbus

import "time"

// PostCounters posts the receive loop's counts as its tick does; for a
// test, after Close, when the loop no longer runs.
func (s *Subscriber) PostCounters() { s.r.postCounters(time.Now()) }
