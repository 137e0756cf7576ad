package gateway_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them: a
// gateway must stop every fan-out, lookup and callback delivery it
// starts (Close waits for its background work), whatever the servers
// did.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
