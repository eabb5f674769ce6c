// Command feedsub joins one or more multicast lines of a feedbus feed,
// keeps the first copy of each message and reports latency and loss.
package main

import "github.com/feedbus/feedbus/internal/cli"

func main() { cli.Main("feedsub", run) }
