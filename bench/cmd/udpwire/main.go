// Command udpwire is feedbench's wire baseline: plain UDP multicast, one
// datagram per market message, sent with sendmmsg and received with
// recvmmsg in batches, with feedbus's socket buffers. Each datagram carries
// a sequence number and its send time, so the receiver counts loss and
// records one-way latency the way feedsub does. It is a test tool: it sends
// only to the administratively scoped group given with -group, from the
// interface given with -iface. Run udpwire -h for usage.
package main

import "github.com/feedbus/feedbus/internal/cli"

func main() { cli.Main("udpwire", run) }
