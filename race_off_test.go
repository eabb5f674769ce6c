//go:build !race

package feedbus_test

const raceEnabled = false
