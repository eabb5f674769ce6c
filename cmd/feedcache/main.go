// Command feedcache is feedbus's recovery server: it joins a feed's lines
// like feedsub, keeps the books, the application kinds' last messages and
// a bounded history, and serves snapshots and retransmissions on a ZeroMQ
// ROUTER socket (docs/recovery.md). Everything it does is package cache;
// this is flags and output.
package main

import "github.com/feedbus/feedbus/internal/cli"

func main() { cli.Main("feedcache", run) }
