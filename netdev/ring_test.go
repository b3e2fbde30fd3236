package netdev

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestTxRingFollowsTraffic: a ring holds no store until its first send,
// keeps each copy in a buffer of the frame's size class, and loses its
// store at the first trim that finds no send since the previous one.
func TestTxRingFollowsTraffic(t *testing.T) {
	r := new(txRing)
	assert.Nil(t, r.store.Load(), "no send: no store")
	seq := r.record([][]byte{make([]byte, 60), make([]byte, 1500), make([]byte, 9000)}, 0)
	st := r.store.Load()
	if assert.NotNil(t, st) {
		assert.Equal(t, 128, cap(st.slot[seq].buf))
		assert.Equal(t, 60, st.slot[seq].n)
		assert.Equal(t, ringFrame, cap(st.slot[seq+1].buf))
		assert.Equal(t, slotNotKept, st.slot[seq+2].n, "GSO frames are not kept")
		assert.Nil(t, st.slot[seq+2].buf)
	}
	ringTrim.trim() // sent since the last look: kept
	assert.NotNil(t, r.store.Load())
	r.record([][]byte{make([]byte, 60)}, 0)
	ringTrim.trim()
	assert.NotNil(t, r.store.Load())
	ringTrim.trim() // nothing sent for a period: dropped
	assert.Nil(t, r.store.Load())
	assert.False(t, r.tracked.Load())
	r.record([][]byte{make([]byte, 60)}, 0)
	assert.NotNil(t, r.store.Load(), "a new send brings a new store")
	assert.True(t, r.tracked.Load())
	r.drop()
	assert.Nil(t, r.store.Load())
}
