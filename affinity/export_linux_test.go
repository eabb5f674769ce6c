package affinity

// The /proc readers, for tests on fixture trees.
var (
	IOThreadsIn   = ioThreads
	CPUsAllowedIn = cpusAllowed
)
