//go:build !race

package automation_test

const raceEnabled = false
