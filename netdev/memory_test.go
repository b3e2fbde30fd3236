package netdev

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestReleaseAfterLargeBurst: a burst of releaseMin closes is followed by
// one FreeOSMemory once the quiet period passed; a smaller one by none.
func TestReleaseAfterLargeBurst(t *testing.T) {
	calls := 0
	r := &releaser{free: func() { calls++ }}
	for i := 0; i < releaseMin-1; i++ {
		r.note()
	}
	r.timer.Stop()
	r.fire()
	assert.Equal(t, 0, calls, "a small burst")
	for i := 0; i < releaseMin; i++ {
		r.note()
	}
	r.timer.Stop()
	r.fire()
	assert.Equal(t, 1, calls)
	assert.Nil(t, r.timer)
	r.fire()
	assert.Equal(t, 1, calls, "counted once")
}
