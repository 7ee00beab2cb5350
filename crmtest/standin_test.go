package crmtest_test

import (
	"fmt"
	"os"
	"sync"
	"testing"
)

// standIn is the testing.TB of examples and of each iteration of a
// benchmark, which have no test of their own to hand to crmtest.New: it
// makes temporary directories, keeps cleanups and runs them at end, and
// fails with fail. It embeds a nil testing.TB, so a method crmtest calls
// that standIn does not have panics instead of passing unnoticed.
type standIn struct {
	testing.TB
	fail func(msg string)

	mu       sync.Mutex
	cleanups []func()
}

// exampleT is the stand-in of an example: a failure panics.
func exampleT() *standIn {
	return &standIn{fail: func(msg string) { panic(msg) }}
}

func (s *standIn) Helper()             {}
func (s *standIn) Name() string        { return "standIn" }
func (s *standIn) Log(...any)          {}
func (s *standIn) Logf(string, ...any) {}

func (s *standIn) Cleanup(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cleanups = append(s.cleanups, f)
}

func (s *standIn) TempDir() string {
	dir, err := os.MkdirTemp("", "crmtest-")
	if err != nil {
		s.fail(err.Error())
	}
	s.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func (s *standIn) Error(args ...any)                 { s.fail(fmt.Sprint(args...)) }
func (s *standIn) Errorf(format string, args ...any) { s.fail(fmt.Sprintf(format, args...)) }
func (s *standIn) Fatal(args ...any)                 { s.fail(fmt.Sprint(args...)) }
func (s *standIn) Fatalf(format string, args ...any) { s.fail(fmt.Sprintf(format, args...)) }

// end runs the cleanups, the last registered first.
func (s *standIn) end() {
	s.mu.Lock()
	cleanups := s.cleanups
	s.cleanups = nil
	s.mu.Unlock()
	for i := len(cleanups) - 1; i >= 0; i-- {
		cleanups[i]()
	}
}
