package affinity

// ReadTopology reads the topology of this host from /sys.
func ReadTopology() (*Topology, error) { return ReadTopologyFrom("/sys") }
