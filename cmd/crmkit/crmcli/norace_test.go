//go:build !race

package crmcli

// raceEnabled: the tests run under the race detector.
const raceEnabled = false
