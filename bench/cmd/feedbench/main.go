// Command feedbench measures feedbus's throughput against a bare ZeroMQ
// PUB/SUB pair (bench/cmd/barepair) with the same socket settings, over
// EPGM on line A of a private lab (bench/lab), and reports both as
// markdown, optionally updating bench/RESULTS.md in place. It must run as
// root. Run feedbench -h for usage.
package main

import "github.com/feedbus/feedbus/internal/cli"

func main() { cli.Main("feedbench", run) }
