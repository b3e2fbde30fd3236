package modes

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"bondingfs/bond"
	"bondingfs/modes/lacp"
)

// slowFrame is a Slow Protocols frame to 01:80:c2:00:00:02 of n bytes
// (Ethernet header included, no FCS), with a vnet header; its payload is
// zero, so no LACPDU.
func slowFrame(n int) []byte {
	f := make([]byte, bond.VnetHdrLen+n)
	e := f[bond.VnetHdrLen:]
	copy(e[0:6], lacp.SlowProtocolsAddr[:])
	copy(e[6:12], []byte{0x02, 0, 0, 0, 0xee, 1})
	binary.BigEndian.PutUint16(e[12:14], lacp.EtherTypeSlow)
	return f
}

// TestADShortSlowFramesIllegal: bond_3ad_lacpdu_recv counts every Slow
// Protocols frame to the Slow Protocols address whose payload is shorter
// than a struct lacpdu (110 bytes) in lacpdu_illegal_rx, the 14-byte frame
// with no payload at all included (skb_header_pointer fails), on the port
// and on the bond. A 14-byte frame of another EtherType counts nowhere.
func TestADShortSlowFramesIllegal(t *testing.T) {
	a := newADEnv(t, true)
	a.enslave("eth0", "eth1")
	a.SetUp("bond0", true)
	a.settle()
	a.inject(0, slowFrame(14))
	a.inject(0, slowFrame(60)) // padded to the Ethernet minimum
	a.inject(1, slowFrame(14+lacp.PDULen-1))
	other := slowFrame(14)
	binary.BigEndian.PutUint16(other[bond.VnetHdrLen+12:], 0x88b5)
	a.inject(1, other)
	for i, n := range a.names {
		require.True(t, a.Host.SlaveDev(n).WaitConsumed(a.inj[i], 5*time.Second), "%s reader", n)
	}
	// the counters reach the snapshot with the next tick's publish
	a.Clock.Advance(lacp.TickInterval * time.Millisecond)
	a.settle()
	st := a.Status("bond0")
	require.NotNil(t, st.AD)
	assert.Equal(t, uint64(3), st.AD.Stats.LACPDUIllegalRx, "the bond's lacpdu_illegal_rx")
	assert.Zero(t, st.AD.Stats.LACPDUUnknownRx)
	want := map[string]uint64{"eth0": 2, "eth1": 1}
	for _, s := range st.Slaves {
		require.NotNil(t, s.ADStats, s.Name)
		assert.Equal(t, want[s.Name], s.ADStats.LACPDUIllegalRx, "%s lacpdu_illegal_rx", s.Name)
	}
}
