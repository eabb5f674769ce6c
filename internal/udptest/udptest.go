// Package udptest gives tests udp:// lines that never leave the host.
package udptest

import (
	"fmt"
	"math/rand/v2"
)

// LoopLines returns n udp:// lines on the loopback interface, each on a
// random group of 239.255.0.0/16 and its own port, so that tests running
// at once do not hear each other.
func LoopLines(n int) []string {
	port := 20000 + rand.IntN(20000)
	third := rand.IntN(250)
	var out []string
	for i := range n {
		out = append(out, fmt.Sprintf("udp://lo;239.255.%d.%d:%d", (third+i)%256, 1+rand.IntN(250), port+i))
	}
	return out
}
