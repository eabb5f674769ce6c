// Command barepair is feedbench's baseline: a bare pebbe/zmq4 PUB/SUB pair
// with feedbus's socket settings but none of its framing, batching or
// sequencing. The publisher sends one ZeroMQ message per market message,
// paced like feedpub (-rate) or as fast as it can, each stamped with its send
// time; the subscriber counts them and records their one-way latency with
// internal/latency, as feedsub does. Run barepair -h for usage.
package main

import "github.com/feedbus/feedbus/internal/cli"

func main() { cli.Main("barepair", run) }
