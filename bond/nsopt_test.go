package bond_test

import (
	"context"
	"math/rand"
	"net/netip"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"bondingfs/bond"
	"bondingfs/bond/bondtest"
)

func addrs6(s ...string) []netip.Addr {
	var out []netip.Addr
	for _, a := range s {
		out = append(out, netip.MustParseAddr(a))
	}
	return out
}

// setNS sets the NS targets as an IFLA_BOND_NS_IP6_TARGET nest does and
// returns the errno, the log lines and the targets after.
func setNS(t *testing.T, e *bondtest.Env, targets ...string) (error, []string, []netip.Addr) {
	t.Helper()
	b := e.Bond("bond0")
	err := e.Do(func() error {
		return b.SetNSTargets(addrs6(targets...), func(text string) error { return b.SetLinkOption("ns_ip6_target", text) })
	})
	return err, e.Log.Take(), e.Status("bond0").Params.NSTargets
}

// TestNSTargetOption: the errors, log lines and resulting tables of the
// kernel transcript 52-ns-ip6-target (steps 1-3).
func TestNSTargetOption(t *testing.T) {
	p := bond.DefaultParams()
	p.Mode, p.ARPInterval = bond.ModeActiveBackup, 250
	e := bondtest.New(t, p)
	e.Log.Take()

	err, log, got := setNS(t, e, "2001:db8::9", "2001:db8::5efe:c000:201")
	require.NoError(t, err)
	assert.Empty(t, log)
	assert.Equal(t, addrs6("2001:db8::9", "2001:db8::5efe:c000:201"), got)

	invalid := "bond0: option ns_ip6_target: invalid value (18446744073709551615)"
	for _, bad := range []string{"::", "::1", "ff02::1"} {
		err, log, got = setNS(t, e, bad)
		assert.Equal(t, syscall.EINVAL, err, bad)
		assert.Equal(t, []string{"bond0: invalid NS target " + bad + " specified for addition", invalid,
			"bond0: Removing last ns target with arp_interval on"}, log)
		assert.Empty(t, got)
	}

	err, log, got = setNS(t, e, "2001:db8::9", "2001:db8::9")
	assert.Equal(t, syscall.EINVAL, err)
	assert.Equal(t, []string{"bond0: NS target 2001:db8::9 is already present", invalid}, log)
	assert.Equal(t, addrs6("2001:db8::9"), got)

	err, log, got = setNS(t, e, "2001:db8::9", "::ffff:192.0.2.1", "fe80::1")
	require.NoError(t, err)
	assert.Empty(t, log)
	assert.Len(t, got, 3)

	var full []string
	for i := 1; i <= bond.MaxNSTargets; i++ {
		full = append(full, netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: byte(i)}).String())
	}
	err, log, got = setNS(t, e, append(full, "2001:db8::ff")...)
	assert.Equal(t, syscall.EINVAL, err)
	assert.Equal(t, []string{"bond0: NS target table is full!", invalid}, log)
	assert.Len(t, got, bond.MaxNSTargets)

	err, log, got = setNS(t, e)
	require.NoError(t, err)
	assert.Equal(t, []string{"bond0: Removing last ns target with arp_interval on"}, log)
	assert.Empty(t, got)

	b := e.Bond("bond0")
	require.NoError(t, e.Do(func() error { return b.SetOption("arp_interval", "0") }))
	e.Log.Take()
	err, log, _ = setNS(t, e)
	require.NoError(t, err)
	assert.Empty(t, log)

	// any mode takes it (no mode dependency)
	require.NoError(t, e.Do(func() error { return b.SetOption("mode", "balance-rr") }))
	err, _, got = setNS(t, e, "2001:db8::5")
	require.NoError(t, err)
	assert.Equal(t, addrs6("2001:db8::5"), got)
}

// TestNSTargetOptionTable: ns_ip6_target is an option of the whole table
// (LinkOptionByName) but no sysfs file (OptionByName, Options).
func TestNSTargetOptionTable(t *testing.T) {
	assert.Nil(t, bond.OptionByName("ns_ip6_target"))
	for _, o := range bond.Options {
		assert.NotEqual(t, "ns_ip6_target", o.Name)
	}
	o := bond.LinkOptionByName("ns_ip6_target")
	require.NotNil(t, o)
	assert.True(t, o.NetlinkOnly())
	assert.Equal(t, bond.OptionByName("miimon"), bond.LinkOptionByName("miimon"))

	p := bond.DefaultParams()
	e := bondtest.New(t, p)
	b := e.Bond("bond0")
	assert.Equal(t, syscall.ENOENT, e.Do(func() error { return b.SetOption("ns_ip6_target", "+2001:db8::1") }))
	assert.Equal(t, syscall.EINVAL, e.Do(func() error { return b.SetLinkOption("ns_ip6_target", "2001:db8::1") }))
	require.NoError(t, e.Do(func() error { return b.SetLinkOption("ns_ip6_target", "+2001:db8::1\n") }))
	require.NoError(t, e.Do(func() error { return b.SetLinkOption("ns_ip6_target", "+2001:db8::2") }))
	assert.Equal(t, "2001:db8::1 2001:db8::2\n", o.Show(e.Status("bond0"), bond.Caller{}))
	require.NoError(t, e.Do(func() error { return b.SetLinkOption("ns_ip6_target", "\n") }))
	assert.Empty(t, e.Status("bond0").Params.NSTargets)

	// the journal's replay writes the recorded list back one "+addr" at a
	// time through WriteOption (no file reaches it: fusefs looks options
	// up with OptionByName)
	admin := bond.Caller{NetAdmin: true}
	require.NoError(t, e.Reg.WriteOption(context.Background(), "bond0", "ns_ip6_target", "+2001:db8::7\n", admin))
	assert.Equal(t, addrs6("2001:db8::7"), e.Status("bond0").Params.NSTargets)
	assert.Equal(t, syscall.EINVAL, e.Reg.WriteOption(context.Background(), "bond0", "ns_ip6_target", "+ff02::1\n", admin))
}

// TestFormatIP6C: %pI6c is RFC 5952 text (netip's) except for IPv4-mapped
// and ISATAP addresses, whose last 32 bits are dotted.
func TestFormatIP6C(t *testing.T) {
	for in, want := range map[string]string{
		"2001:db8::5efe:c000:201":   "2001:db8::5efe:192.0.2.1",
		"fe80::200:5efe:c000:201":   "fe80::200:5efe:192.0.2.1",
		"::ffff:192.0.2.1":          "::ffff:192.0.2.1",
		"2001:db8:0:1:0:0:0:1":      "2001:db8:0:1::1",
		"2001:db8::1:0:0:1":         "2001:db8::1:0:0:1",
		"2001:0:0:1::1":             "2001:0:0:1::1",
		"::":                        "::",
		"::1":                       "::1",
		"2001:db8:1:2:3:4:5:6":      "2001:db8:1:2:3:4:5:6",
		"2001:db8:0:0:1:0:0:1":      "2001:db8::1:0:0:1",
		"0:0:0:0:0:5efe:c000:201":   "::5efe:192.0.2.1",
		"2001:db8:0:0:300:5efe:1:2": "2001:db8::300:5efe:1:2",
	} {
		assert.Equal(t, want, bond.FormatIP6C(netip.MustParseAddr(in)), in)
	}
	r := rand.New(rand.NewSource(1))
	for i := 0; i < 2000; i++ {
		var b [16]byte
		for j := range b {
			if r.Intn(3) > 0 {
				b[j] = byte(r.Intn(256))
			}
		}
		b[10], b[11] = 1, 2 // neither mapped nor ISATAP
		a := netip.AddrFrom16(b)
		assert.Equal(t, a.String(), bond.FormatIP6C(a))
	}
}
