package bond

import "math"

// This file is the option table: one entry per file under
// /sys/class/net/<bond>/bonding/, in the order of bond_sysfs.c
// per_bond_attrs[] of the Debian 6.1 kernel, with the value tables of
// bond_options.c. Every consumer (sysfs files, module options, config
// import, tests, procfs names) reads enum names and numbers from the value
// tables below; there is no second mapping anywhere.

// allModesExcept is BOND_MODE_ALL_EX: every mode except those in keep (a bit
// set of 1<<Mode).
func allModesExcept(keep uint32) uint32 { return ^keep }

func optModeBit(m ModeID) uint32 { return 1 << uint(m) }

// noARPModes are the modes that cannot use the ARP monitor
// (!ModeID.UsesARPMonitor): 802.3ad, balance-tlb, balance-alb.
var noARPModes = func() (m uint32) {
	for _, v := range modeValues {
		if id := ModeID(v.Value); !id.UsesARPMonitor() {
			m |= optModeBit(id)
		}
	}
	return m
}()

// optIntMax is INT_MAX, the "maxval" of the millisecond options.
const optIntMax = math.MaxInt32

// Value tables (bond_options.c bond_*_tbl). Order matters: parsing takes the
// first entry that matches, as the kernel does.
var (
	modeValues = []OptValue{
		{"balance-rr", uint64(ModeRoundRobin), ValDefault},
		{"active-backup", uint64(ModeActiveBackup), 0},
		{"balance-xor", uint64(ModeXOR), 0},
		{"broadcast", uint64(ModeBroadcast), 0},
		{"802.3ad", uint64(Mode8023AD), 0},
		{"balance-tlb", uint64(ModeTLB), 0},
		{"balance-alb", uint64(ModeALB), 0},
	}
	packetsPerSlaveValues = []OptValue{
		{"default", 1, ValDefault},
		{"maxval", math.MaxUint16, ValMax},
	}
	xmitHashValues = []OptValue{
		{"layer2", uint64(XmitLayer2), ValDefault},
		{"layer3+4", uint64(XmitLayer34), 0},
		{"layer2+3", uint64(XmitLayer23), 0},
		{"encap2+3", uint64(XmitEncap23), 0},
		{"encap3+4", uint64(XmitEncap34), 0},
		{"vlan+srcmac", uint64(XmitVlanSrcMAC), 0},
	}
	arpValidateValues = []OptValue{
		{"none", uint64(ARPValidateNone), ValDefault},
		{"active", uint64(ARPValidateActive), 0},
		{"backup", uint64(ARPValidateBackup), 0},
		{"all", uint64(ARPValidateAll), 0},
		{"filter", uint64(ARPValidateFilter), 0},
		{"filter_active", uint64(ARPValidateFilterActive), 0},
		{"filter_backup", uint64(ARPValidateFilterBackup), 0},
	}
	arpAllTargetsValues = []OptValue{
		{"any", 0, ValDefault},
		{"all", 1, 0},
	}
	failOverMACValues = []OptValue{
		{"none", uint64(FOMNone), ValDefault},
		{"active", uint64(FOMActive), 0},
		{"follow", uint64(FOMFollow), 0},
	}
	// intMaxValues serves every "0 .. INT_MAX" option (miimon, arp_interval,
	// updelay, downdelay, min_links): bond_intmax_tbl.
	intMaxValues = []OptValue{
		{"off", 0, ValDefault},
		{"maxval", optIntMax, ValMax},
	}
	lacpActiveValues = []OptValue{
		{"off", 0, 0},
		{"on", 1, ValDefault},
	}
	// lacpRateValues has no default entry: "echo default > lacp_rate" fails.
	lacpRateValues = []OptValue{
		{"slow", uint64(LACPRateSlow), 0},
		{"fast", uint64(LACPRateFast), 0},
	}
	adSelectValues = []OptValue{
		{"stable", uint64(ADSelectStable), ValDefault},
		{"bandwidth", uint64(ADSelectBandwidth), 0},
		{"count", uint64(ADSelectCount), 0},
	}
	numPeerNotifValues = []OptValue{
		{"off", 0, 0},
		{"maxval", 255, ValMax},
		{"default", 1, ValDefault},
	}
	peerNotifDelayValues = []OptValue{
		{"off", 0, 0},
		{"maxval", 300000, ValMax},
	}
	primaryReselectValues = []OptValue{
		{"always", uint64(ReselectAlways), ValDefault},
		{"better", uint64(ReselectBetter), 0},
		{"failure", uint64(ReselectFailure), 0},
	}
	useCarrierValues = []OptValue{
		{"off", 0, 0},
		{"on", 1, ValDefault},
	}
	allSlavesActiveValues = []OptValue{
		{"off", 0, ValDefault},
		{"on", 1, 0},
	}
	resendIGMPValues = []OptValue{
		{"off", 0, 0},
		{"maxval", 255, ValMax},
		{"default", 1, ValDefault},
	}
	lpIntervalValues = []OptValue{
		{"minval", 1, ValMin | ValDefault},
		{"maxval", optIntMax, ValMax},
	}
	tlbDynamicLBValues = []OptValue{
		{"off", 0, 0},
		{"on", 1, ValDefault},
	}
	adActorSysPrioValues = []OptValue{
		{"minval", 1, ValMin},
		{"maxval", 65535, ValMax | ValDefault},
	}
	adUserPortKeyValues = []OptValue{
		{"minval", 0, ValMin | ValDefault},
		{"maxval", 1023, ValMax},
	}
	missedMaxValues = []OptValue{
		{"minval", 1, ValMin},
		{"maxval", 255, ValMax},
		{"default", 2, ValDefault},
	}
)

// Options is the option table in the order of bond_sysfs.c per_bond_attrs[]:
// one entry per file under bonding/ (38 in the 6.1 kernel).
var Options []*Option

func init() {
	Options = []*Option{
		{Name: "slaves", Desc: "Slave membership management",
			Flags: OptRawVal, Show: showSlaves, set: setSlaves},
		{Name: "mode", Desc: "Mode of operation; 0 for balance-rr, 1 for active-backup, 2 for balance-xor, 3 for broadcast, 4 for 802.3ad, 5 for balance-tlb, 6 for balance-alb",
			Flags: OptNoSlaves | OptIfDown, Values: modeValues,
			Show: showEnum("mode", func(p *Params) int { return int(p.Mode) }), set: setMode},
		storeEnum(&Option{Name: "fail_over_mac", Desc: "For active-backup, do not set all slaves to the same MAC; 0 for none (default), 1 for active, 2 for follow",
			Flags: OptNoSlaves, Values: failOverMACValues},
			func(p *Params) *FailOverMAC { return &p.FailOverMAC }),
		storeEnum(&Option{Name: "arp_validate", Desc: "validate src/dst of ARP probes; 0 for none (default), 1 for active, 2 for backup, 3 for all",
			UnsuppModes: noARPModes, Values: arpValidateValues},
			func(p *Params) *ARPValidate { return &p.ARPValidate }),
		storeEnum(&Option{Name: "arp_all_targets", Desc: "fail on any/all arp targets timeout; 0 for any (default), 1 for all",
			Values: arpAllTargetsValues},
			func(p *Params) *int { return &p.ARPAllTargets }),
		{Name: "arp_interval", Desc: "arp interval in milliseconds",
			UnsuppModes: noARPModes, Values: intMaxValues,
			Show: showInt(func(p *Params) int { return p.ARPInterval }), set: setARPInterval},
		{Name: "arp_ip_target", Desc: "arp targets in n.n.n.n form",
			Flags: OptRawVal, Show: showARPTargets, set: setARPTargets},
		storeDelay(&Option{Name: "downdelay", Desc: "Delay before considering link down, in milliseconds",
			Values: intMaxValues},
			"down delay", func(p *Params) *int { return &p.DownDelay }),
		storeDelay(&Option{Name: "updelay", Desc: "Delay before considering link up, in milliseconds",
			Values: intMaxValues},
			"up delay", func(p *Params) *int { return &p.UpDelay }),
		storeDelay(&Option{Name: "peer_notif_delay", Desc: "Delay between each peer notification on failover event, in milliseconds",
			Values: peerNotifDelayValues},
			"peer notification delay", func(p *Params) *int { return &p.PeerNotifDelay }),
		storeEnum(&Option{Name: "lacp_active", Desc: "Send LACPDU frames with configured lacp rate or acts as speak when spoken to",
			Flags: OptIfDown, UnsuppModes: allModesExcept(optModeBit(Mode8023AD)), Values: lacpActiveValues},
			func(p *Params) *int { return &p.LACPActive }),
		storeEnum(&Option{Name: "lacp_rate", Desc: "LACPDU tx rate to request from 802.3ad partner; 0 for slow, 1 for fast",
			Flags: OptIfDown, UnsuppModes: allModesExcept(optModeBit(Mode8023AD)), Values: lacpRateValues},
			func(p *Params) *LACPRate { return &p.LACPRate }),
		storeEnum(&Option{Name: "ad_select", Desc: "802.3ad aggregation selection logic; 0 for stable (default), 1 for bandwidth, 2 for count",
			Flags: OptIfDown, Values: adSelectValues},
			func(p *Params) *ADSelect { return &p.ADSelect }),
		{Name: "xmit_hash_policy", Desc: "balance-alb, balance-tlb, balance-xor, 802.3ad hashing method; 0 for layer 2 (default), 1 for layer 3+4, 2 for layer 2+3, 3 for encap layer 2+3, 4 for encap layer 3+4, 5 for vlan+srcmac",
			Values: xmitHashValues,
			Show:   showEnum("xmit_hash_policy", func(p *Params) int { return int(p.XmitPolicy) }),
			set:    setXmitPolicy},
		storeInt(&Option{Name: "num_grat_arp", Desc: "Number of peer notifications to send on failover event (alias of num_unsol_na)",
			Values: numPeerNotifValues},
			showInt, func(p *Params) *int { return &p.NumPeerNotif }),
		storeInt(&Option{Name: "num_unsol_na", Desc: "Number of peer notifications to send on failover event (alias of num_grat_arp)",
			Values: numPeerNotifValues},
			showInt, func(p *Params) *int { return &p.NumPeerNotif }),
		{Name: "miimon", Desc: "Link check interval in milliseconds",
			Values: intMaxValues,
			Show:   showInt(func(p *Params) int { return p.Miimon }), set: setMiimon},
		{Name: "primary", Desc: "Primary network device to use",
			Flags: OptRawVal, UnsuppModes: allModesExcept(optModeBit(ModeActiveBackup) | optModeBit(ModeTLB) | optModeBit(ModeALB)),
			Show: showPrimary, set: setPrimary},
		{Name: "primary_reselect", Desc: "Reselect primary slave once it comes up; 0 for always (default), 1 for only if speed of primary is better, 2 for only on active slave failure",
			Values: primaryReselectValues,
			Show:   showEnum("primary_reselect", func(p *Params) int { return int(p.PrimaryReselect) }),
			set:    setPrimaryReselect},
		storeInt(&Option{Name: "use_carrier", Desc: "Use netif_carrier_ok (vs MII ioctls) in miimon; 0 for off, 1 for on (default)",
			Values: useCarrierValues},
			showInt, func(p *Params) *int { return &p.UseCarrier }),
		{Name: "active_slave", Desc: "Currently active slave",
			Flags: OptRawVal, UnsuppModes: allModesExcept(optModeBit(ModeActiveBackup) | optModeBit(ModeTLB) | optModeBit(ModeALB)),
			Show: showActiveSlave, set: setActiveSlave},
		{Name: "mii_status", Flags: OptReadOnly, Show: showMIIStatus},
		{Name: "ad_aggregator", Flags: OptReadOnly, Show: showAgg(false, func(a *ADAggregator) int { return a.ID })},
		{Name: "ad_num_ports", Flags: OptReadOnly, Show: showAgg(false, func(a *ADAggregator) int { return a.NumPorts })},
		{Name: "ad_actor_key", Flags: OptReadOnly, Show: showAgg(true, func(a *ADAggregator) int { return a.ActorKey })},
		{Name: "ad_partner_key", Flags: OptReadOnly, Show: showAgg(true, func(a *ADAggregator) int { return a.PartnerKey })},
		{Name: "ad_partner_mac", Flags: OptReadOnly, Show: showPartnerMAC},
		{Name: "queue_id", Desc: "Set queue id of a slave",
			Flags: OptRawVal, Show: showQueueIDs, set: setQueueID},
		{Name: "all_slaves_active", Desc: "Keep all frames received on an interface by setting active flag for all slaves; 0 for never (default), 1 for always.",
			Values: allSlavesActiveValues,
			Show:   showInt(func(p *Params) int { return p.AllSlavesActive }), set: setAllSlavesActive},
		storeInt(&Option{Name: "resend_igmp", Desc: "Number of IGMP membership reports to send on link failure",
			Values: resendIGMPValues},
			showInt, func(p *Params) *int { return &p.ResendIGMP }),
		storeInt(&Option{Name: "min_links", Desc: "Minimum number of available links before turning on carrier",
			Values: intMaxValues},
			showUint, func(p *Params) *int { return &p.MinLinks }),
		storeInt(&Option{Name: "lp_interval", Desc: "The number of seconds between instances where the bonding driver sends learning packets to each slaves peer switch. The default is 1.",
			Values: lpIntervalValues},
			showInt, func(p *Params) *int { return &p.LpInterval }),
		storeInt(&Option{Name: "packets_per_slave", Desc: "Packets to send per slave in balance-rr mode; 0 for a random slave, 1 packet per slave (default), >1 packets per slave.",
			UnsuppModes: allModesExcept(optModeBit(ModeRoundRobin)), Values: packetsPerSlaveValues},
			showUint, func(p *Params) *int { return &p.PacketsPerSlave }),
		storeInt(&Option{Name: "tlb_dynamic_lb", Desc: "Enable dynamic flow shuffling",
			Flags: OptIfDown, UnsuppModes: allModesExcept(optModeBit(ModeTLB) | optModeBit(ModeALB)), Values: tlbDynamicLBValues},
			showInt, func(p *Params) *int { return &p.TLBDynamicLB }),
		storeInt(&Option{Name: "ad_actor_sys_prio",
			UnsuppModes: allModesExcept(optModeBit(Mode8023AD)), Values: adActorSysPrioValues},
			showADUint16, func(p *Params) *int { return &p.ADActorSysPrio }),
		{Name: "ad_actor_system",
			Flags: OptRawVal, UnsuppModes: allModesExcept(optModeBit(Mode8023AD)),
			Show: showAD(func(p *Params) string { return FormatMAC(p.ADActorSystem) }), set: setAdActorSystem},
		storeInt(&Option{Name: "ad_user_port_key",
			Flags: OptIfDown, UnsuppModes: allModesExcept(optModeBit(Mode8023AD)), Values: adUserPortKeyValues},
			showADUint16, func(p *Params) *int { return &p.ADUserPortKey }),
		storeInt(&Option{Name: "arp_missed_max", Desc: "Maximum number of missed ARP interval",
			UnsuppModes: noARPModes, Values: missedMaxValues},
			showUint, func(p *Params) *int { return &p.MissedMax }),
	}
}

// storeInt gives o, an option that only stores an int of Params, its Show
// (show formats the field: showInt, showUint, showADUint16) and its set
// (setInt), both from the one accessor field.
func storeInt(o *Option, show func(get func(*Params) int) func(*BondStatus, Caller) string, field func(*Params) *int) *Option {
	o.Show = show(func(p *Params) int { return *field(p) })
	o.set = setInt(field)
	return o
}

// storeEnum is storeInt for an option with a value table, shown by the
// value's name (showEnum); T is the field's type (int, ARPValidate, ...).
func storeEnum[T ~int](o *Option, field func(*Params) *T) *Option {
	o.Show = showEnum(o.Name, func(p *Params) int { return int(*field(p)) })
	o.set = setInt(field)
	return o
}

// storeDelay is storeInt for a delay in milliseconds kept in miimon ticks
// (showDelay, setDelay; label names it in the kernel's warnings).
func storeDelay(o *Option, label string, field func(*Params) *int) *Option {
	o.Show = showDelay(func(p *Params) int { return *field(p) })
	o.set = setDelay(label, field)
	return o
}

// showADUint16 shows an 802.3ad field the kernel keeps in a u16.
func showADUint16(get func(*Params) int) func(*BondStatus, Caller) string {
	return showAD(func(p *Params) string { return optFmtUint(uint64(uint16(get(p)))) })
}

// OptionByName returns the option named name, or nil.
func OptionByName(name string) *Option {
	for _, o := range Options {
		if o.Name == name {
			return o
		}
	}
	return nil
}

// ValueName returns the name the option's value table gives v (the word the
// sysfs file prints before the number, e.g. ValueName("mode", 1) =
// "active-backup", ValueName("xmit_hash_policy", 1) = "layer3+4",
// ValueName("lacp_rate", 1) = "fast"), as bond_opt_get_val does: the first
// entry with that value. It returns "" when the option or value is unknown.
func ValueName(opt string, v int) string {
	o := OptionByName(opt)
	if o == nil || v < 0 {
		return ""
	}
	for _, e := range o.Values {
		if e.Value == uint64(v) {
			return e.Name
		}
	}
	return ""
}

// ModeDescription returns the long mode name of /proc/net/bonding's
// "Bonding Mode:" line (bond_main.c bond_mode_name), "unknown" out of range.
func ModeDescription(mode ModeID) string {
	switch mode {
	case ModeRoundRobin:
		return "load balancing (round-robin)"
	case ModeActiveBackup:
		return "fault-tolerance (active-backup)"
	case ModeXOR:
		return "load balancing (xor)"
	case ModeBroadcast:
		return "fault-tolerance (broadcast)"
	case Mode8023AD:
		return "IEEE 802.3ad Dynamic link aggregation"
	case ModeTLB:
		return "transmit load balancing"
	case ModeALB:
		return "adaptive load balancing"
	}
	return "unknown"
}

// valueFlagged returns the first value table entry carrying one of the flags
// in mask (bond_opt_get_flags), or nil.
func (o *Option) valueFlagged(mask int) *OptValue {
	for i := range o.Values {
		if o.Values[i].Flags&mask != 0 {
			return &o.Values[i]
		}
	}
	return nil
}

// Range returns the option's numeric range [min, max] (min is 0 when the
// table has no "minval") and whether it has one; options without a "maxval"
// entry accept only their table's values.
func (o *Option) Range() (min, max uint64, ok bool) {
	mx := o.valueFlagged(ValMax)
	if mx == nil {
		return 0, 0, false
	}
	if mn := o.valueFlagged(ValMin); mn != nil {
		min = mn.Value
	}
	return min, mx.Value, true
}

// Default returns the table entry "default" selects, or nil when the option
// has none (lacp_rate, peer_notif_delay, raw options).
func (o *Option) Default() *OptValue { return o.valueFlagged(ValDefault) }

// ReadOnly reports whether the file is 0444.
func (o *Option) ReadOnly() bool { return o.Flags&OptReadOnly != 0 }

// Unsupported reports whether setting the option in mode fails with EACCES.
func (o *Option) Unsupported(mode ModeID) bool {
	return mode >= 0 && mode < 32 && o.UnsuppModes&optModeBit(mode) != 0
}
