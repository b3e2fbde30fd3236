package bond_test

import (
	"net"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"

	"bondingfs/bond"
)

// FuzzARPRcv: bond_rcv_validate on any frame, every arp_validate value and
// slave state, never panics; a frame too short for an Ethernet header never
// counts.
func FuzzARPRcv(f *testing.F) {
	f.Add(uint8(3), false, false, arpFrame(2, net.HardwareAddr{2, 0, 0, 0, 0, 1}, peerMAC, target1, bondIP))
	f.Add(uint8(2), true, true, arpFrame(1, make(net.HardwareAddr, 6), peerMAC, bondIP, target2))
	f.Add(uint8(4), false, true, junkFrame())
	f.Add(uint8(1), false, false, []byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, validate uint8, all, backup bool, frame []byte) {
		got := bond.ARPRcv(bond.ARPValidate(validate%7), all, backup, frame)
		if len(frame) < 14 && got != 0 {
			t.Fatalf("a %d-byte frame counted", len(frame))
		}
	})
}

// TestARPRcvRules: the trust rules of bond_arp_rcv as the reader applies
// them: an active slave counts a reply from a target to the bond; a backup
// counts the bond's request to a target (sip/tip swapped) once the active
// slave has heard since it became active; nothing from a non-target or to
// another address counts.
func TestARPRcvRules(t *testing.T) {
	mac := net.HardwareAddr{2, 0, 0, 0, 0, 1}
	reply := arpFrame(2, mac, peerMAC, target1, bondIP)
	request := arpFrame(1, make(net.HardwareAddr, 6), mac, bondIP, target2)
	other := arpFrame(2, mac, peerMAC, netip.MustParseAddr("192.0.2.50"), bondIP)
	toOther := arpFrame(2, mac, peerMAC, target1, netip.MustParseAddr("192.0.2.77"))
	assert.NotZero(t, bond.ARPRcv(bond.ARPValidateAll, false, false, reply))
	assert.NotZero(t, bond.ARPRcv(bond.ARPValidateAll, false, true, request))
	assert.Zero(t, bond.ARPRcv(bond.ARPValidateAll, false, true, reply), "a reply on a backup is checked swapped (the active slave has heard), not as a reply")
	assert.Zero(t, bond.ARPRcv(bond.ARPValidateAll, false, false, request), "the bond's own request on the active slave")
	assert.Zero(t, bond.ARPRcv(bond.ARPValidateAll, false, false, other))
	assert.Zero(t, bond.ARPRcv(bond.ARPValidateAll, false, false, toOther))
	assert.Zero(t, bond.ARPRcv(bond.ARPValidateFilter, false, false, junkFrame()))
	assert.NotZero(t, bond.ARPRcv(bond.ARPValidateFilter, false, false, other))
	assert.NotZero(t, bond.ARPRcv(bond.ARPValidateNone, false, false, junkFrame()))
}
