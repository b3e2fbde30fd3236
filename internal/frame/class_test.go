package frame_test

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/assert"

	"bondingfs/internal/frame"
)

// ethFrame is an Ethernet frame of n bytes with EtherType etherType from
// 02:00:00:00:00:99.
func ethFrame(etherType uint16, n int) []byte {
	e := make([]byte, n)
	copy(e[6:12], []byte{2, 0, 0, 0, 0, 0x99})
	binary.BigEndian.PutUint16(e[12:14], etherType)
	return e
}

// nd is an IPv6 frame carrying ICMPv6 of type typ right after the header.
func nd(typ byte) []byte {
	f := make([]byte, 14+40+24)
	f[12], f[13] = 0x86, 0xdd
	f[14+6] = 58
	f[14+40] = typ
	return f
}

func TestClassifyFrame(t *testing.T) {
	assert.Equal(t, frame.ClassSlow, frame.ClassifyFrame(ethFrame(0x8809, 60)))
	assert.Equal(t, frame.ClassARP, frame.ClassifyFrame(ethFrame(0x0806, 60)))
	assert.Equal(t, frame.ClassND, frame.ClassifyFrame(nd(135)))
	assert.Equal(t, frame.ClassND, frame.ClassifyFrame(nd(136)))
	assert.Equal(t, frame.Class(0), frame.ClassifyFrame(nd(128)), "echo request")
	assert.Equal(t, frame.Class(0), frame.ClassifyFrame(ethFrame(0x0800, 60)))
	assert.Equal(t, frame.Class(0), frame.ClassifyFrame([]byte{1, 2, 3}))
	assert.Equal(t, frame.Class(0), frame.ClassifyFrame(nd(135)[:14+40]), "too short for the ICMPv6 type")
}

// TestClassifyTaggedARP: an ARP frame behind one 802.1Q tag (a VLAN above
// the bond) is ARP to the probe, as the kernel's untagged skb is; other
// tagged frames are not.
func TestClassifyTaggedARP(t *testing.T) {
	f := make([]byte, 18+28)
	f[12], f[13], f[14], f[15], f[16], f[17] = 0x81, 0x00, 0x00, 0x05, 0x08, 0x06
	assert.Equal(t, frame.ClassARP, frame.ClassifyFrame(f), "tagged ARP")
	f[17] = 0x00
	assert.Equal(t, frame.Class(0), frame.ClassifyFrame(f), "tagged IPv4")
	assert.Equal(t, frame.Class(0), frame.ClassifyFrame(f[:16]), "short tagged frame")
}

func TestClassifyFrameNoAlloc(t *testing.T) {
	frames := [][]byte{ethFrame(0x8809, 60), ethFrame(0x0806, 60), nd(135), ethFrame(0x0800, 60)}
	assert.Zero(t, testing.AllocsPerRun(100, func() {
		for _, f := range frames {
			_ = frame.ClassifyFrame(f)
		}
	}))
}
