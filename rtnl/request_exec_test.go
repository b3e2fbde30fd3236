package rtnl

import (
	"context"
	"testing"

	"github.com/mdlayher/netlink"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"bondingfs/bond"
)

// execEngine and execKernel record what Execute asks of the engine and
// sends to the kernel.
type execEngine struct {
	snap    *bond.Snapshot
	masters [][2]string // SetMaster(port, bond) calls
}

func (e *execEngine) Snapshot() *bond.Snapshot { return e.snap }
func (e *execEngine) NewLink(context.Context, string, []bond.LinkOption) (string, error) {
	return "", nil
}
func (e *execEngine) ChangeLink(context.Context, string, []bond.LinkOption) error { return nil }
func (e *execEngine) SetMaster(_ context.Context, port, b string) error {
	e.masters = append(e.masters, [2]string{port, b})
	return nil
}
func (e *execEngine) DelLink(context.Context, string) error { return nil }

type execKernel struct {
	reqLinks
	sent [][]byte
}

func (k *execKernel) IndexOf(name string) (int32, bool) {
	for i, n := range k.reqLinks {
		if n == name {
			return i, true
		}
	}
	return 0, false
}
func (k *execKernel) Do(msg []byte) error { k.sent = append(k.sent, msg); return nil }

// `ip link set bond0 master br0` and `… nomaster`: a master that is no bond
// is the kernel's, so the TAP joins and leaves the bridge as a bond device
// would (rtnetlink's do_set_master); the engine is not asked.
func TestExecuteBondIntoBridge(t *testing.T) {
	snap := &bond.Snapshot{Bonds: []*bond.BondStatus{{Name: "bond0", Index: 5,
		Slaves: []bond.SlaveStatus{{Name: "eth1", Index: 3}}}}}
	for _, master := range []int32{9, 0} {
		eng := &execEngine{snap: snap}
		k := &execKernel{reqLinks: reqLinks{3: "eth1", 5: "bond0", 9: "br0"}}
		msg := reqMsg(t, unix.RTM_NEWLINK, 0, 5, 0, func(ae *netlink.AttributeEncoder) {
			ae.Uint32(unix.IFLA_MASTER, uint32(master))
		})
		r, err := DecodeLink(msg)
		require.NoError(t, err)
		require.NoError(t, Execute(context.Background(), r, eng, k), "master %d", master)
		assert.Empty(t, eng.masters, "master %d: the engine is not asked", master)
		require.Len(t, k.sent, 1, "master %d", master)
		ad, err := netlink.NewAttributeDecoder(k.sent[0][unix.NLMSG_HDRLEN+unix.SizeofIfInfomsg:])
		require.NoError(t, err)
		got, found := uint32(0), false
		for ad.Next() {
			if ad.Type() == unix.IFLA_MASTER {
				got, found = ad.Uint32(), true
			}
		}
		assert.True(t, found && got == uint32(master), "master %d: the kernel gets IFLA_MASTER %d (found %v)", master, got, found)
	}
}
