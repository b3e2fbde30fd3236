package bondtest

import (
	"testing"

	"go.uber.org/goleak"
)

// VerifyNone fails the test if goroutines other than the test's own are
// left (go.uber.org/goleak); call it with defer at the start of a test, or
// use VerifyTestMain.
func VerifyNone(t testing.TB) { goleak.VerifyNone(t) }

// VerifyTestMain runs the package's tests and then fails if any goroutine
// is left (goleak.VerifyTestMain).
func VerifyTestMain(m *testing.M) { goleak.VerifyTestMain(m) }
