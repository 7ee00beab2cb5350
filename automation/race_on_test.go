//go:build race

package automation_test

// raceEnabled: the race detector slows SQLite (pure Go) about 25 times;
// the SQLite burst is smaller then.
const raceEnabled = true
