// Command feedpub publishes a synthetic market-data feed on one or more
// multicast lines. See the README for flags and examples.
package main

import "github.com/feedbus/feedbus/internal/cli"

func main() { cli.Main("feedpub", run) }
