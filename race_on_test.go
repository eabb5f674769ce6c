//go:build race

package feedbus_test

// raceEnabled: the race detector's instrumentation allocates, so allocation
// counts are checked only in the plain test run (scripts/test runs both).
const raceEnabled = true
