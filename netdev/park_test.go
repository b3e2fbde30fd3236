package netdev

import (
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"bondingfs/bond"
)

// parkedReader parks a reader on d and returns a channel that gets a value
// each time the device starts it.
func parkedReader(t *testing.T, d bond.Parker) chan struct{} {
	t.Helper()
	woken := make(chan struct{}, 4)
	require.NoError(t, d.Park(func() { woken <- struct{}{} }))
	return woken
}

// ready is WaitReadFor(0): whether a frame can be read now.
func ready(t *testing.T, d bond.Parker) bool {
	t.Helper()
	ok, err := d.WaitReadFor(0)
	require.NoError(t, err)
	return ok
}

func woke(c chan struct{}) bool {
	select {
	case <-c:
		return true
	case <-time.After(2 * time.Second):
		return false
	}
}

func idle(c chan struct{}) bool {
	select {
	case <-c:
		return false
	case <-time.After(50 * time.Millisecond):
		return true
	}
}

// TestSlaveDevPark: a reader parked on an idle slave socket is started once
// a frame is queued (not before), once only until it parks again; a frame
// already queued starts it at once; Close starts a parked reader so it can
// end, and a Park after Close starts it at once. WaitReadFor finds the socket
// empty and marks the reader back (RxPending false). The process's poller
// exists only while a device is registered.
func TestSlaveDevPark(t *testing.T) {
	_, eth0, p0 := openSlaveDevPair(t)
	d := eth0.(bond.Parker)
	rp := eth0.(bond.RxPender)
	require.False(t, ready(t, d), "an idle socket is not ready")
	assert.False(t, rp.RxPending())
	woken := parkedReader(t, d)
	assert.True(t, pollerRunning())
	assert.True(t, idle(woken), "started with nothing queued")

	frame := make([]byte, bond.VnetHdrLen, bond.VnetHdrLen+64)
	frame = append(frame, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0xbb, 1, 0x88, 0xb5)
	frame = frame[:cap(frame)]
	require.NoError(t, p0.WriteFrame(frame))
	require.True(t, woke(woken), "a queued frame did not start the parked reader")
	// The wait before parking: false after its time with nothing queued
	// (checked while the reader is started: drained below), true as soon
	// as a frame comes.
	br0 := eth0.(bond.BatchReader)
	bufs0 := [][]byte{make([]byte, frameBuf)}
	_, err := br0.ReadBatch(bufs0, make([]int, 1), 0)
	require.NoError(t, err)
	ok, err := d.WaitReadFor(20 * time.Millisecond)
	require.NoError(t, err)
	require.False(t, ok, "WaitReadFor true with nothing queued")
	got := make(chan bool, 1)
	go func() { ok, _ := d.WaitReadFor(10 * time.Second); got <- ok }()
	time.Sleep(20 * time.Millisecond) // let it wait: a frame queued before would pass too
	require.NoError(t, p0.WriteFrame(frame))
	require.True(t, <-got, "WaitReadFor missed a frame that came while it waited")
	_, err = br0.ReadBatch(bufs0, make([]int, 1), 0)
	require.NoError(t, err)
	require.NoError(t, p0.WriteFrame(frame))
	assert.True(t, idle(woken), "started twice for one park")
	assert.True(t, ready(t, d))
	assert.True(t, rp.RxPending(), "frames queued")

	// Parked with frames already queued: started at once.
	woken = parkedReader(t, d)
	require.True(t, woke(woken), "a reader parked on a ready socket was not started")

	// Drain, park, close: the reader is started to find the socket closed.
	br := eth0.(bond.BatchReader)
	bufs := [][]byte{make([]byte, frameBuf), make([]byte, frameBuf), make([]byte, frameBuf)}
	require.NoError(t, p0.WriteFrame(frame))
	n, err := br.ReadBatch(bufs, make([]int, 3), 0)
	require.NoError(t, err)
	require.Equal(t, 2, n)
	require.False(t, ready(t, d))
	assert.False(t, rp.RxPending(), "the reader found the socket empty: nothing pending")
	woken = parkedReader(t, d)
	require.NoError(t, eth0.Close())
	require.True(t, woke(woken), "Close did not start the parked reader")
	_, err = br.ReadBatch(bufs, make([]int, 3), 0)
	assert.ErrorIs(t, err, os.ErrClosed)
	assert.True(t, ready(t, d), "a closed device reads (its error) at once")
	ok, err = d.WaitReadFor(time.Hour)
	assert.True(t, ok && err == nil, "WaitReadFor waited on a closed device")
	woken = parkedReader(t, d)
	require.True(t, woke(woken), "Park after Close did not start the reader")
	assert.False(t, pollerRunning(), "the poller outlived every registered device")
}

// TestTapPark: readers parked on the TAP's queues are started when the
// kernel sends a frame through the TAP (on the queue its flow hash picks)
// and, all of them, when the TAP is deleted from outside (EPOLLERR); after
// Close nothing is left registered.
func TestTapPark(t *testing.T) {
	p := newPair(t)
	m, _, err := p.h.CreateMaster("bond0")
	require.NoError(t, err)
	t.Cleanup(func() { m.Close() })
	qs := m.(bond.MultiQueue).Queues()
	woken := make(chan int, 2*len(qs))
	parkAll := func() {
		for i, q := range qs {
			require.NoError(t, q.(bond.Parker).Park(func() { woken <- i }))
		}
	}
	for _, q := range qs {
		require.False(t, ready(t, q.(bond.Parker)))
	}
	parkAll()
	select {
	case i := <-woken:
		t.Fatalf("queue %d started with nothing queued", i)
	case <-time.After(50 * time.Millisecond):
	}
	require.NoError(t, m.SetCarrier(true))
	p.a.Run(t, "ip", "link", "set", "bond0", "up")
	p.a.Run(t, "ip", "addr", "add", "198.51.100.1/24", "dev", "bond0")
	p.a.Run(t, "sh", "-c", "ping -c 1 -W 0.2 198.51.100.2 || true") // an ARP request goes out through the TAP
	started := map[int]bool{}
	select {
	case i := <-woken:
		started[i] = true
	case <-time.After(2 * time.Second):
		t.Fatal("a frame sent through the TAP started no parked reader")
	}
	// Drain every queue, then park every reader not parked any more.
	bufs := [][]byte{make([]byte, frameBuf), make([]byte, frameBuf)}
	for i, q := range qs {
		for ready(t, q.(bond.Parker)) {
			_, err := q.(bond.BatchReader).ReadBatch(bufs, make([]int, 2), 0)
			require.NoError(t, err, "queue %d", i)
		}
	}
	for len(woken) > 0 {
		started[<-woken] = true
	}
	for i, q := range qs {
		if started[i] {
			require.NoError(t, q.(bond.Parker).Park(func() { woken <- i }))
		}
	}
	p.a.Run(t, "ip", "link", "del", "bond0")
	for range qs {
		select {
		case <-woken:
		case <-time.After(2 * time.Second):
			t.Fatal("deleting the TAP did not start every parked reader")
		}
	}
	require.NoError(t, m.Close())
	assert.False(t, pollerRunning(), "the poller outlived the TAP")
}

// TestSlaveDevRxPendingWhileWaiting: a reader back from its batch and
// waiting for the next frame (WaitRead, as when it cannot park) has nothing
// pending. Before, the batch's "busy" mark stayed until the next recvmmsg
// found the socket empty, which a reader waiting in WaitRead never made, so
// every 802.3ad tick waited its whole 20 ms for a port that had once
// received a frame (4 idle 802.3ad bonds: 5–7 % of a core, 2.5 % after).
func TestSlaveDevRxPendingWhileWaiting(t *testing.T) {
	_, eth0, p0 := openSlaveDevPair(t)
	rp := eth0.(bond.RxPender)
	frame := make([]byte, bond.VnetHdrLen, bond.VnetHdrLen+64)
	frame = append(frame, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0xbb, 1, 0x88, 0xb5)
	frame = frame[:cap(frame)]
	require.NoError(t, p0.WriteFrame(frame))
	bufs := [][]byte{make([]byte, frameBuf), make([]byte, frameBuf)}
	for !rp.RxPending() {
		time.Sleep(time.Millisecond)
	}
	_, err := eth0.(bond.BatchReader).ReadBatch(bufs, make([]int, 2), 0)
	require.NoError(t, err)
	require.True(t, rp.RxPending(), "the reader has not handed its batch on yet")
	done := make(chan error, 1)
	go func() { done <- eth0.(bond.ReadWaiter).WaitRead() }()
	eventually(t, 2*time.Second, func() bool { return !rp.RxPending() }, "RxPending stays true while the reader waits for the next frame")
	require.NoError(t, eth0.Close())
	assert.ErrorIs(t, <-done, os.ErrClosed)
}
