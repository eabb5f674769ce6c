// Package cache is feedbus's recovery server, the ZeroMQ guide's Clone
// pattern: it follows a feed like any subscriber and keeps what a
// subscriber that joins late, or loses messages beyond the PGM window,
// needs back: a last-value book per symbol, the last message of each
// application kind per symbol, and a bounded history of recent messages.
// It serves them on a ROUTER socket, in the protocol of package recovery
// (docs/recovery.md): snapshots of the books, whole or by symbol prefix,
// taken at one point of the feed, and retransmissions of a session's
// messages by sequence number, as signed feedbus frames.
//
//	srv, err := cache.New([]string{"epgm://eth1;239.192.1.1:5555", "epgm://eth2;239.192.2.1:5556"},
//		cache.WithListen("tcp://*:5560"),
//		cache.WithSubscriberOptions(feedbus.WithVerifying(keys, auth.DefaultWindow)),
//		cache.WithSigning(keys))
//	defer srv.Close()
//	st := srv.Stats() // any time, from any goroutine
//
// Two servers fed by the same lines hold the same state and need no
// coordination: a client asks one, and the other when the first does not
// answer (docs/recovery.md says why there is no primary and backup). A
// server started while the feed runs takes its state from the other's
// snapshot when its subscriber is given the other as a recovery server
// (feedbus.WithRecovery through WithSubscriberOptions); without one it
// refuses snapshots (CodeNotReady) unless WithPartialSnapshots.
//
// # Concurrency and lifetime
//
// New starts the cache's subscriber (feedbus.Subscribe with one worker,
// so its handler sees the feed in delivery order, plus the subscriber's
// receive loop, event and status goroutines) and one goroutine that owns
// the ROUTER socket and its ZeroMQ context from creation to close, locked
// to its OS thread. The worker and the ROUTER goroutine share the feed's
// state under one mutex: the worker holds it for a run of up to 32
// messages; the ROUTER goroutine holds it to encode a snapshot (about 25 ms
// per 100,000 symbols) and to copy one retransmitted frame's
// messages out of the history. The subscriber's queue (DefaultFeedQueue)
// absorbs the feed meanwhile; nothing else ever waits on a client: every
// send is non-blocking, and a client whose queue is full is parked, its
// replies resumed later or dropped after WithClientTimeout.
//
// Stats, Endpoints, Done and Err are safe from any goroutine at any time.
// Close stops the ROUTER goroutine (abandoning requests in progress),
// closes the subscriber and waits for every goroutine; it is idempotent
// and safe from any goroutine. Lines is valid until Close.
//
// # Memory
//
// Every table is bounded and every refusal counted (Stats): the books by
// WithMaxSymbols, the application kinds' last messages by WithMaxAppKinds
// and WithMaxAppBytes, the history by WithHistoryCount, WithHistoryBytes
// and WithHistoryAge, the requests in progress by WithMaxRequests (and
// four per client), each ZeroMQ send queue by WithSendHWM. A snapshot's
// records are encoded whole when it is taken, so the replies in progress
// hold at most WithMaxRequests snapshots; docs/recovery.md gives the
// formula. The history allocates nothing per message once its buffers
// have grown.
package cache
