package modparams

import (
	"fmt"
	"math"
	"net/netip"
	"strings"

	"bondingfs/bond"
	"bondingfs/internal/ktext"
)

// checker is bond_check_params in progress: the raw module values, the
// kernel log, and the values checked so far, which params turns into the
// defaults of every bond. Each step is one parameter's block (or a few
// that the kernel checks together), run in the kernel's order.
type checker struct {
	v   *modValues
	log func(string)
	p   bond.Params // DefaultParams; checkADSelect writes ADSelect

	mode          bond.ModeID
	xmit          int
	lacpRate      bond.LACPRate
	arpValidate   bond.ARPValidate
	arpAllTargets int
	reselect      bond.PrimaryReselect
	fom           bond.FailOverMAC
	targets       []netip.Addr
	primary       *string // nil: none, or no effect in mode
}

// check is bond_check_params (Debian 6.1): the steps in the kernel's order,
// stopping at the first that fails the module load (a *Error).
func (v *modValues) check(log func(string)) (Config, error) {
	c := &checker{
		v: v, log: log, p: bond.DefaultParams(),
		mode: bond.ModeRoundRobin, xmit: int(bond.XmitLayer2), arpValidate: bond.ARPValidateNone,
		reselect: bond.ReselectAlways, fom: bond.FOMNone,
	}
	for _, step := range []func() error{
		c.checkMode, c.checkXmitHash, c.checkLACPRate, c.checkADSelect,
		c.checkCounts, c.checkQueues, c.checkDelays,
		c.checkARPTargets, c.checkARPValidate, c.checkARPAllTargets, c.logMonitor,
		c.checkPrimary, c.checkFailOverMAC, c.checkLpInterval,
	} {
		if err := step(); err != nil {
			return Config{}, err
		}
	}
	return Config{MaxBonds: v.maxBonds, Params: c.params()}, nil
}

// logf logs one kernel line.
func (c *checker) logf(format string, a ...any) { c.log(fmt.Sprintf(format, a...)) }

// fail logs the kernel's message and returns it as the load failure.
func (c *checker) fail(format string, a ...any) error {
	msg := fmt.Sprintf(format, a...)
	c.log(msg)
	return &Error{Msg: msg}
}

// enum parses *raw with the option's value table into *dst (of the
// option's value type T); a value the table lacks fails the load with the
// kernel's message (format takes the value) and leaves *dst alone.
func enum[T ~int](c *checker, opt string, raw *string, dst *T, format string) error {
	x, ok := parseEnum(opt, *raw)
	if !ok {
		return c.fail(format, *raw)
	}
	*dst = T(x)
	return nil
}

// reset sets *field to def with the kernel's warning when bad.
func (c *checker) reset(field *int, bad bool, def int, format string, a ...any) {
	if bad {
		c.logf(format, a...)
		*field = def
	}
}

// checkMode parses mode (balance-rr when unset); an unknown one fails the
// load.
func (c *checker) checkMode() error {
	n := int(bond.ModeRoundRobin)
	if c.v.mode != nil {
		if err := enum(c, "mode", c.v.mode, &n, `Error: Invalid bonding mode "%s"`); err != nil {
			return err
		}
	}
	c.mode = bond.ModeID(n)
	return nil
}

// checkXmitHash parses xmit_hash_policy in the modes that hash, and only
// logs it as irrelevant in the others.
func (c *checker) checkXmitHash() error {
	if c.v.xmitHash == nil {
		return nil
	}
	if !c.mode.CanUseXmitHash() {
		c.logf("xmit_hash_policy param is irrelevant in mode %s", bond.ModeDescription(c.mode))
		return nil
	}
	return enum(c, "xmit_hash_policy", c.v.xmitHash, &c.xmit, `Error: Invalid xmit_hash_policy "%s"`)
}

// checkLACPRate parses lacp_rate in 802.3ad, and only logs it as
// irrelevant in the other modes.
func (c *checker) checkLACPRate() error {
	if c.v.lacpRate == nil {
		return nil
	}
	if c.mode != bond.Mode8023AD {
		c.logf("lacp_rate param is irrelevant in mode %s", bond.ModeDescription(c.mode))
		return nil
	}
	return enum(c, "lacp_rate", c.v.lacpRate, &c.lacpRate, `Error: Invalid lacp rate "%s"`)
}

// checkADSelect parses ad_select in every mode, noting that only 802.3ad
// uses it.
func (c *checker) checkADSelect() error {
	if c.v.adSelect == nil {
		return nil
	}
	if err := enum(c, "ad_select", c.v.adSelect, &c.p.ADSelect, `Error: Invalid ad_select "%s"`); err != nil {
		return err
	}
	if c.mode != bond.Mode8023AD {
		c.logf("ad_select param only affects 802.3ad mode")
	}
	return nil
}

// checkCounts resets max_bonds, miimon, updelay, downdelay, use_carrier and
// num_grat_arp/num_unsol_na when out of range, and forces miimon in the
// modes that need it.
func (c *checker) checkCounts() error {
	v := c.v
	c.reset(&v.maxBonds, v.maxBonds < 0, 1,
		"Warning: max_bonds (%d) not in range %d-%d, so it was reset to BOND_DEFAULT_MAX_BONDS (%d)",
		v.maxBonds, 0, math.MaxInt32, 1)
	for _, d := range []struct {
		name string
		v    *int
	}{{"miimon", &v.miimon}, {"updelay", &v.updelay}, {"downdelay", &v.downdelay}} {
		c.reset(d.v, *d.v < 0, 0, "Warning: %s module parameter (%d), not in range 0-%d, so it was reset to 0",
			d.name, *d.v, math.MaxInt32)
	}
	c.reset(&v.useCarrier, v.useCarrier != 0 && v.useCarrier != 1, 1,
		"Warning: use_carrier module parameter (%d), not of valid value (0/1), so it was set to 1", v.useCarrier)
	c.reset(&v.numPeerNotif, v.numPeerNotif < 0 || v.numPeerNotif > 255, 1,
		"Warning: num_grat_arp/num_unsol_na (%d) not in range 0-255 so it was reset to 1", v.numPeerNotif)
	if !c.mode.UsesARPMonitor() && v.miimon == 0 {
		c.logf("Warning: miimon must be specified, otherwise bonding will not detect link failure, speed and duplex which are essential for 802.3ad operation")
		c.logf("Forcing miimon to 100msec")
		v.miimon = bond.DefaultMiimon
	}
	return nil
}

// checkQueues resets tx_queues, all_slaves_active, resend_igmp and
// packets_per_slave when out of range.
func (c *checker) checkQueues() error {
	v := c.v
	c.reset(&v.txQueues, v.txQueues < 1 || v.txQueues > 255, 16,
		"Warning: tx_queues (%d) should be between 1 and 255, resetting to %d", v.txQueues, 16)
	c.reset(&v.allSlavesActive, v.allSlavesActive != 0 && v.allSlavesActive != 1, 0,
		"Warning: all_slaves_active module parameter (%d), not of valid value (0/1), so it was set to 0", v.allSlavesActive)
	c.reset(&v.resendIGMP, v.resendIGMP < 0 || v.resendIGMP > 255, 1,
		"Warning: resend_igmp (%d) should be between 0 and 255, resetting to %d", v.resendIGMP, 1)
	c.reset(&v.packetsPerSlave, v.packetsPerSlave < 0 || v.packetsPerSlave > math.MaxUint16, 1,
		"Warning: packets_per_slave (%d) should be between 0 and %d resetting to 1", v.packetsPerSlave, math.MaxUint16)
	return nil
}

// checkDelays turns updelay and downdelay into miimon ticks (miimon wins
// over arp_interval), then resets a negative arp_interval.
func (c *checker) checkDelays() error {
	v := c.v
	if c.mode == bond.ModeALB {
		c.logf("In ALB mode you might experience client disconnections upon reconnection of a link if the bonding module updelay parameter (%d msec) is incompatible with the forwarding delay time of the switch",
			v.updelay)
	}
	if v.miimon == 0 {
		if v.updelay != 0 || v.downdelay != 0 {
			c.logf("Warning: miimon module parameter not set and updelay (%d) or downdelay (%d) module parameter is set; updelay and downdelay have no effect unless miimon is set",
				v.updelay, v.downdelay)
		}
	} else {
		c.reset(&v.arpInterval, v.arpInterval != 0, 0,
			"Warning: miimon (%d) and arp_interval (%d) can't be used simultaneously, disabling ARP monitoring",
			v.miimon, v.arpInterval)
		if v.updelay%v.miimon != 0 {
			c.logf("Warning: updelay (%d) is not a multiple of miimon (%d), updelay rounded to %d ms",
				v.updelay, v.miimon, v.updelay/v.miimon*v.miimon)
		}
		v.updelay /= v.miimon
		if v.downdelay%v.miimon != 0 {
			c.logf("Warning: downdelay (%d) is not a multiple of miimon (%d), downdelay rounded to %d ms",
				v.downdelay, v.miimon, v.downdelay/v.miimon*v.miimon)
		}
		v.downdelay /= v.miimon
	}
	c.reset(&v.arpInterval, v.arpInterval < 0, 0,
		"Warning: arp_interval module parameter (%d), not in range 0-%d, so it was reset to 0",
		v.arpInterval, math.MaxInt32)
	return nil
}

// checkARPTargets keeps the valid, distinct arp_ip_target addresses (a bad
// one disables ARP monitoring), and disables arp_interval without any.
func (c *checker) checkARPTargets() error {
	v := c.v
	for i := 0; i < bond.MaxARPTargets && len(c.targets) < bond.MaxARPTargets && v.arpIPTarget[i] != nil; i++ {
		raw := *v.arpIPTarget[i]
		ip, ok := ktext.In4pton(raw)
		if !ok || !bond.ARPTargetOK(ip) {
			c.logf("Warning: bad arp_ip_target module parameter (%s), ARP monitoring will not be performed", raw)
			v.arpInterval = 0
			continue
		}
		dup := false
		for _, t := range c.targets {
			dup = dup || t == ip
		}
		if dup {
			c.logf("Warning: duplicate address %s in arp_ip_target, skipping", ip)
			continue
		}
		c.targets = append(c.targets, ip)
	}
	c.reset(&v.arpInterval, v.arpInterval != 0 && len(c.targets) == 0, 0,
		"Warning: arp_interval module parameter (%d) specified without providing an arp_ip_target parameter, arp_interval was reset to 0",
		v.arpInterval)
	return nil
}

// checkARPValidate parses arp_validate; without arp_interval (as checked so
// far) it fails the load.
func (c *checker) checkARPValidate() error {
	if c.v.arpValidate == nil {
		return nil
	}
	if c.v.arpInterval == 0 {
		return c.fail("arp_validate requires arp_interval")
	}
	return enum(c, "arp_validate", c.v.arpValidate, &c.arpValidate, `Error: invalid arp_validate "%s"`)
}

// checkARPAllTargets: an invalid value is logged but does not fail the load.
func (c *checker) checkARPAllTargets() error {
	if c.v.arpAllTargets == nil {
		return nil
	}
	a, ok := parseEnum("arp_all_targets", *c.v.arpAllTargets)
	if !ok {
		c.logf("Error: invalid arp_all_targets_value \"%s\"", *c.v.arpAllTargets)
	} else {
		c.arpAllTargets = a
	}
	return nil
}

// logMonitor logs the link monitor in use: MII, or ARP with the raw
// strings of the first len(targets) arp_ip_target slots, as the kernel
// prints them.
func (c *checker) logMonitor() error {
	v := c.v
	switch {
	case v.miimon != 0:
		c.logf("MII link monitoring set to %d ms", v.miimon)
	case v.arpInterval != 0:
		var b strings.Builder
		fmt.Fprintf(&b, "ARP monitoring set to %d ms, validate %s, with %d target(s):",
			v.arpInterval, bond.ValueName("arp_validate", int(c.arpValidate)), len(c.targets))
		for i := range c.targets {
			b.WriteString(" " + *v.arpIPTarget[i])
		}
		c.log(b.String())
	}
	return nil
}

// checkPrimary drops primary in modes without one; primary_reselect is
// parsed only with a primary.
func (c *checker) checkPrimary() error {
	c.primary = c.v.primary
	if c.primary != nil && !c.mode.UsesPrimary() {
		c.logf("Warning: %s primary device specified but has no effect in %s mode", *c.primary, bond.ModeDescription(c.mode))
		c.primary = nil
	}
	if c.primary != nil && c.v.primaryReselect != nil {
		return enum(c, "primary_reselect", c.v.primaryReselect, &c.reselect, `Error: Invalid primary_reselect "%s"`)
	}
	return nil
}

// checkFailOverMAC parses fail_over_mac in every mode, noting that only
// active-backup uses it.
func (c *checker) checkFailOverMAC() error {
	if c.v.failOverMAC == nil {
		return nil
	}
	if err := enum(c, "fail_over_mac", c.v.failOverMAC, &c.fom, `Error: invalid fail_over_mac "%s"`); err != nil {
		return err
	}
	if !c.mode.IsActiveBackup() {
		c.logf("Warning: fail_over_mac only affects active-backup mode")
	}
	return nil
}

// checkLpInterval resets lp_interval 0 to 1 second.
func (c *checker) checkLpInterval() error {
	if c.v.lpInterval == 0 {
		c.logf("Warning: ip_interval must be between 1 and %d, so it was reset to %d", math.MaxInt32, 1)
		c.v.lpInterval = 1
	}
	return nil
}

// params is bonding_defaults as the checked values give it; primary is
// cut to IFNAMSIZ-1 bytes.
func (c *checker) params() bond.Params {
	v, p := c.v, c.p
	p.Mode = c.mode
	p.XmitPolicy = bond.XmitPolicy(c.xmit)
	p.Miimon = v.miimon
	p.NumPeerNotif = v.numPeerNotif
	p.ARPInterval = v.arpInterval
	p.ARPValidate = c.arpValidate
	p.ARPAllTargets = c.arpAllTargets
	p.UpDelay = v.updelay
	p.DownDelay = v.downdelay
	p.LACPRate = c.lacpRate
	p.PrimaryReselect = c.reselect
	p.FailOverMAC = c.fom
	p.TxQueues = v.txQueues
	p.AllSlavesActive = v.allSlavesActive
	p.ResendIGMP = v.resendIGMP
	p.MinLinks = v.minLinks
	p.LpInterval = int(int32(v.lpInterval))
	p.PacketsPerSlave = v.packetsPerSlave
	p.UseCarrier = v.useCarrier
	p.ARPTargets = c.targets
	if c.primary != nil {
		p.Primary = *c.primary
		if len(p.Primary) > ktext.IFNAMSIZ-1 {
			p.Primary = p.Primary[:ktext.IFNAMSIZ-1]
		}
	}
	return p
}
