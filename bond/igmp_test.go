package bond_test

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"bondingfs/bond"
	"bondingfs/bond/bondtest"
)

// TestResendIGMP: after an active-backup failover the bond sends its
// membership reports through the new active slave resend_igmp times, 200 ms
// apart (bond_resend_igmp_join_requests_delayed); resend_igmp 0 sends none.
func TestResendIGMP(t *testing.T) {
	for _, n := range []int{0, 3} {
		p := abParams(100)
		p.NumPeerNotif = 0
		p.ResendIGMP = n
		e := bondtest.New(t, p, "eth0", "eth1")
		e.Host.SetAddrs("bond0", netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("fe80::1"))
		e.Host.SetGroups("bond0", netip.MustParseAddr("239.1.2.3"), netip.MustParseAddr("ff05::123"))
		enslave(t, e, "eth0", "eth1")
		e.SetUp("bond0", true)
		eth1 := e.Host.SlaveDev("eth1")
		e.Host.SetCarrier("eth0", false)
		e.Settle()
		require.Equal(t, "eth1", e.Status("bond0").ActiveSlave)
		for i := 0; i < 5; i++ {
			e.Tick(200 * time.Millisecond)
			if n > 0 {
				eth1.WaitSent(2*min(i+1, n), waitFrames)
			}
		}
		bond.WaitSenders(e.Bond("bond0")) // a report too many would have been sent
		igmp, mld := 0, 0
		for _, f := range eth1.Frames() {
			switch binary.BigEndian.Uint16(f[bond.VnetHdrLen+12:]) {
			case 0x0800:
				igmp++
			case 0x86dd:
				mld++
			}
		}
		assert.Equal(t, n, igmp, "resend_igmp %d: IGMP reports", n)
		assert.Equal(t, n, mld, "resend_igmp %d: MLD reports", n)
	}
}
