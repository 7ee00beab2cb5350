//go:build race

package crmcli

// raceEnabled: the tests run under the race detector, which makes
// SQLite (pure Go, instrumented) some fifteen times slower.
const raceEnabled = true
