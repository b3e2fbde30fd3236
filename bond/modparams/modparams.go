// Package modparams parses bonding.ko's module parameters
// (`modprobe bonding max_bonds=2 mode=active-backup …`) as kernel/params.c
// parse_args does and checks them as bond_main.c bond_check_params does in
// the Debian 6.1 kernel, giving the defaults of every bond
// (bond.Config.Defaults) and the number of bonds to create.
package modparams

import (
	"fmt"
	"math"
	"net/netip"
	"strings"
	"syscall"

	"bondingfs/bond"
	"bondingfs/internal/ktext"
)

// Config is the result of the module options.
type Config struct {
	// MaxBonds is the number of bonds (bond0 .. bondN-1) created at start.
	MaxBonds int
	// Params are the defaults of every bond (bonding_defaults): delays in
	// miimon ticks, TxQueues from tx_queues.
	Params bond.Params
}

// modParamKind is a module_param type as modinfo prints it.
type modParamKind string

const (
	modInt        modParamKind = "int"
	modUint       modParamKind = "uint"
	modCharp      modParamKind = "charp"
	modCharpArray modParamKind = "array of charp"
)

// modParam is one module parameter of bonding.ko in declaration order.
// desc is the MODULE_PARM_DESC text; for parameters that are also options it
// comes from the option table.
type modParam struct {
	name string
	kind modParamKind
	desc string
}

func optDesc(name string) string { return bond.OptionByName(name).Desc }

// modParams lists bonding.ko's parameters (bond_main.c module_param block).
func modParams() []modParam {
	return []modParam{
		{"max_bonds", modInt, "Max number of bonded devices"},
		{"tx_queues", modInt, "Max number of transmit queues (default = 16)"},
		{"num_grat_arp", modInt, optDesc("num_grat_arp")},
		{"num_unsol_na", modInt, optDesc("num_unsol_na")},
		{"miimon", modInt, optDesc("miimon")},
		{"updelay", modInt, optDesc("updelay")},
		{"downdelay", modInt, optDesc("downdelay")},
		{"use_carrier", modInt, optDesc("use_carrier")},
		{"mode", modCharp, optDesc("mode")},
		{"primary", modCharp, optDesc("primary")},
		{"primary_reselect", modCharp, optDesc("primary_reselect")},
		{"lacp_rate", modCharp, optDesc("lacp_rate")},
		{"ad_select", modCharp, optDesc("ad_select")},
		{"min_links", modInt, optDesc("min_links")},
		{"xmit_hash_policy", modCharp, optDesc("xmit_hash_policy")},
		{"arp_interval", modInt, optDesc("arp_interval")},
		{"arp_ip_target", modCharpArray, optDesc("arp_ip_target")},
		{"arp_validate", modCharp, optDesc("arp_validate")},
		{"arp_all_targets", modCharp, optDesc("arp_all_targets")},
		{"fail_over_mac", modCharp, optDesc("fail_over_mac")},
		{"all_slaves_active", modInt, optDesc("all_slaves_active")},
		{"resend_igmp", modInt, optDesc("resend_igmp")},
		{"packets_per_slave", modInt, optDesc("packets_per_slave")},
		{"lp_interval", modUint, optDesc("lp_interval")},
	}
}

// Help lists every module parameter with its description and type, one per
// line, as `modinfo bonding` prints its parm: lines.
func Help() string {
	var b strings.Builder
	for _, p := range modParams() {
		fmt.Fprintf(&b, "%-16s%s:%s (%s)\n", "parm:", p.name, p.desc, p.kind)
	}
	return b.String()
}

// Error is a module option that makes the module load fail (modprobe:
// Invalid argument). Msg is the kernel's log line; it unwraps to
// syscall.EINVAL.
type Error struct{ Msg string }

func (e *Error) Error() string { return "bonding: module load failed: " + e.Msg }
func (e *Error) Unwrap() error { return syscall.EINVAL }

// modValues holds the raw module parameter variables before
// bond_check_params; nil strings are unset charp parameters.
type modValues struct {
	maxBonds, txQueues, numPeerNotif, miimon, updelay, downdelay   int
	useCarrier, minLinks, arpInterval, allSlavesActive, resendIGMP int
	packetsPerSlave                                                int
	lpInterval                                                     uint32
	mode, primary, primaryReselect, lacpRate, adSelect, xmitHash   *string
	arpValidate, arpAllTargets, failOverMAC                        *string
	arpIPTarget                                                    [bond.MaxArpTargets]*string
}

// Parse parses module options (each "name=value"; the list is
// joined with spaces and split again as the kernel's parse_args does, so a
// double-quoted value may contain spaces) and checks them like
// bond_check_params. Every kernel log line goes to log ("bonding: unknown
// parameter 'x' ignored", "MII link monitoring set to 100 ms", ...). Out of
// range numbers are reset with the kernel's warning; an invalid enum (mode,
// xmit_hash_policy in a hashing mode, lacp_rate in 802.3ad, ad_select,
// arp_validate, primary_reselect, fail_over_mac), arp_validate without
// arp_interval, or a malformed number returns a *Error (errno
// EINVAL): the daemon must not start, as the module would not load.
func Parse(args []string, log func(string)) (Config, error) {
	if log == nil {
		log = func(string) {}
	}
	v := modValues{
		maxBonds: 1, txQueues: 16, numPeerNotif: 1, useCarrier: 1,
		resendIGMP: 1, packetsPerSlave: 1, lpInterval: 1,
	}
	line := strings.Join(args, " ")
	for rest := ktext.SkipSpaces(line); rest != ""; {
		var name string
		var val *string
		name, val, rest = nextArg(rest)
		if err := v.set(name, val, log); err != nil {
			return Config{}, err
		}
	}
	return v.check(log)
}

// nextArg is kernel/params.c next_arg: one "param[=value]" token, where
// double quotes group spaces; a quote opening the token or the value and one
// closing it are removed.
func nextArg(args string) (param string, val *string, rest string) {
	quoted := false
	if strings.HasPrefix(args, `"`) {
		args = args[1:]
		quoted = true
	}
	inQuote := quoted
	equals := 0
	i := 0
	for ; i < len(args); i++ {
		if ktext.IsSpace(args[i]) && !inQuote {
			break
		}
		if equals == 0 && args[i] == '=' {
			equals = i
		}
		if args[i] == '"' {
			inQuote = !inQuote
		}
	}
	rest = args[i:]
	if rest != "" {
		rest = rest[1:]
	}
	rest = ktext.SkipSpaces(rest)
	end := i
	closing := i > 0 && args[i-1] == '"'
	if equals == 0 {
		if quoted && closing {
			end--
		}
		return args[:end], nil, rest
	}
	start := equals + 1
	if start < i && args[start] == '"' {
		start++
		if closing {
			end--
		}
	} else if quoted && closing {
		end--
	}
	value := ""
	if start < end {
		value = args[start:end]
	}
	return args[:equals], &value, rest
}

// modParamName is parameq: '-' and '_' are the same in parameter names.
func modParamName(s string) string { return strings.ReplaceAll(s, "-", "_") }

// set stores one parameter like parse_one with the param_ops of its type.
func (v *modValues) set(name string, val *string, log func(string)) error {
	invalid := func() error {
		s := ""
		if val != nil {
			s = *val
		}
		msg := fmt.Sprintf("bonding: `%s' invalid for parameter `%s'", s, name)
		log(msg)
		return &Error{Msg: msg}
	}
	var p *modParam
	for _, mp := range modParams() {
		if mp.name == modParamName(name) {
			p = &mp
			break
		}
	}
	if p == nil {
		log(fmt.Sprintf("bonding: unknown parameter '%s' ignored", name))
		return nil
	}
	if val == nil {
		return invalid()
	}
	switch p.kind {
	case modInt:
		n, err := ktext.Kstrtoint(*val, true)
		if err != nil {
			return invalid()
		}
		*v.intField(p.name) = int(n)
	case modUint:
		n, err := ktext.Kstrtoint(*val, false)
		if err != nil {
			return invalid()
		}
		v.lpInterval = uint32(n)
	case modCharp:
		if len(*val) > 1024 {
			msg := fmt.Sprintf("bonding: `%s' too large for parameter `%s'", *val, name)
			log(msg)
			return &Error{Msg: msg}
		}
		s := *val
		*v.charpField(p.name) = &s
	case modCharpArray:
		// param_array: comma separated, at most 16; slots past the new
		// count keep their previous value, as the kernel's array does.
		items := strings.Split(*val, ",")
		if len(items) > bond.MaxArpTargets {
			log(fmt.Sprintf("%s: can only take %d arguments", p.name, bond.MaxArpTargets))
			msg := fmt.Sprintf("bonding: `%s' invalid for parameter `%s'", items[0], name)
			log(msg)
			return &Error{Msg: msg}
		}
		for i, it := range items {
			s := it
			v.arpIPTarget[i] = &s
		}
	}
	return nil
}

func (v *modValues) intField(name string) *int {
	switch name {
	case "max_bonds":
		return &v.maxBonds
	case "tx_queues":
		return &v.txQueues
	case "num_grat_arp", "num_unsol_na":
		return &v.numPeerNotif
	case "miimon":
		return &v.miimon
	case "updelay":
		return &v.updelay
	case "downdelay":
		return &v.downdelay
	case "use_carrier":
		return &v.useCarrier
	case "min_links":
		return &v.minLinks
	case "arp_interval":
		return &v.arpInterval
	case "all_slaves_active":
		return &v.allSlavesActive
	case "resend_igmp":
		return &v.resendIGMP
	case "packets_per_slave":
		return &v.packetsPerSlave
	}
	panic("bond: no int module parameter " + name)
}

func (v *modValues) charpField(name string) **string {
	switch name {
	case "mode":
		return &v.mode
	case "primary":
		return &v.primary
	case "primary_reselect":
		return &v.primaryReselect
	case "lacp_rate":
		return &v.lacpRate
	case "ad_select":
		return &v.adSelect
	case "xmit_hash_policy":
		return &v.xmitHash
	case "arp_validate":
		return &v.arpValidate
	case "arp_all_targets":
		return &v.arpAllTargets
	case "fail_over_mac":
		return &v.failOverMAC
	}
	panic("bond: no charp module parameter " + name)
}

// parseEnum is bond_opt_parse of a module string against an option's table.
func parseEnum(opt, s string) (int, bool) {
	v, ok := bond.OptionByName(opt).Parse(s)
	return int(v.Value), ok
}

// check is bond_check_params (Debian 6.1).
func (v *modValues) check(log func(string)) (Config, error) {
	logf := func(format string, a ...any) { log(fmt.Sprintf(format, a...)) }
	fail := func(format string, a ...any) (Config, error) {
		msg := fmt.Sprintf(format, a...)
		log(msg)
		return Config{}, &Error{Msg: msg}
	}
	// enum parses *raw with the option's value table into *dst; a value
	// the table lacks fails the load with the kernel's message (format
	// takes the value).
	var failed error
	enum := func(opt string, raw *string, dst *int, format string) bool {
		x, ok := parseEnum(opt, *raw)
		if !ok {
			_, failed = fail(format, *raw)
			return false
		}
		*dst = x
		return true
	}
	p := bond.DefaultParams()

	modeN := int(bond.ModeRoundRobin)
	if v.mode != nil && !enum("mode", v.mode, &modeN, `Error: Invalid bonding mode "%s"`) {
		return Config{}, failed
	}
	mode := bond.ModeID(modeN)
	xmit := int(bond.XmitLayer2)
	if v.xmitHash != nil {
		if !mode.CanUseXmitHash() {
			logf("xmit_hash_policy param is irrelevant in mode %s", bond.ModeDescription(mode))
		} else if !enum("xmit_hash_policy", v.xmitHash, &xmit, `Error: Invalid xmit_hash_policy "%s"`) {
			return Config{}, failed
		}
	}
	lacpFast := 0
	if v.lacpRate != nil {
		if mode != bond.Mode8023AD {
			logf("lacp_rate param is irrelevant in mode %s", bond.ModeDescription(mode))
		} else if !enum("lacp_rate", v.lacpRate, &lacpFast, `Error: Invalid lacp rate "%s"`) {
			return Config{}, failed
		}
	}
	if v.adSelect != nil {
		if !enum("ad_select", v.adSelect, &p.AdSelect, `Error: Invalid ad_select "%s"`) {
			return Config{}, failed
		}
		if mode != bond.Mode8023AD {
			logf("ad_select param only affects 802.3ad mode")
		}
	}
	if v.maxBonds < 0 {
		logf("Warning: max_bonds (%d) not in range %d-%d, so it was reset to BOND_DEFAULT_MAX_BONDS (%d)",
			v.maxBonds, 0, math.MaxInt32, 1)
		v.maxBonds = 1
	}
	for _, d := range []struct {
		name string
		v    *int
	}{{"miimon", &v.miimon}, {"updelay", &v.updelay}, {"downdelay", &v.downdelay}} {
		if *d.v < 0 {
			logf("Warning: %s module parameter (%d), not in range 0-%d, so it was reset to 0",
				d.name, *d.v, math.MaxInt32)
			*d.v = 0
		}
	}
	if v.useCarrier != 0 && v.useCarrier != 1 {
		logf("Warning: use_carrier module parameter (%d), not of valid value (0/1), so it was set to 1",
			v.useCarrier)
		v.useCarrier = 1
	}
	if v.numPeerNotif < 0 || v.numPeerNotif > 255 {
		logf("Warning: num_grat_arp/num_unsol_na (%d) not in range 0-255 so it was reset to 1",
			v.numPeerNotif)
		v.numPeerNotif = 1
	}
	if !mode.UsesARPMonitor() && v.miimon == 0 {
		logf("Warning: miimon must be specified, otherwise bonding will not detect link failure, speed and duplex which are essential for 802.3ad operation")
		logf("Forcing miimon to 100msec")
		v.miimon = bond.DefaultMiimon
	}
	if v.txQueues < 1 || v.txQueues > 255 {
		logf("Warning: tx_queues (%d) should be between 1 and 255, resetting to %d", v.txQueues, 16)
		v.txQueues = 16
	}
	if v.allSlavesActive != 0 && v.allSlavesActive != 1 {
		logf("Warning: all_slaves_active module parameter (%d), not of valid value (0/1), so it was set to 0",
			v.allSlavesActive)
		v.allSlavesActive = 0
	}
	if v.resendIGMP < 0 || v.resendIGMP > 255 {
		logf("Warning: resend_igmp (%d) should be between 0 and 255, resetting to %d", v.resendIGMP, 1)
		v.resendIGMP = 1
	}
	if v.packetsPerSlave < 0 || v.packetsPerSlave > math.MaxUint16 {
		logf("Warning: packets_per_slave (%d) should be between 0 and %d resetting to 1",
			v.packetsPerSlave, math.MaxUint16)
		v.packetsPerSlave = 1
	}
	if mode == bond.ModeALB {
		logf("In ALB mode you might experience client disconnections upon reconnection of a link if the bonding module updelay parameter (%d msec) is incompatible with the forwarding delay time of the switch",
			v.updelay)
	}
	if v.miimon == 0 {
		if v.updelay != 0 || v.downdelay != 0 {
			logf("Warning: miimon module parameter not set and updelay (%d) or downdelay (%d) module parameter is set; updelay and downdelay have no effect unless miimon is set",
				v.updelay, v.downdelay)
		}
	} else {
		if v.arpInterval != 0 {
			logf("Warning: miimon (%d) and arp_interval (%d) can't be used simultaneously, disabling ARP monitoring",
				v.miimon, v.arpInterval)
			v.arpInterval = 0
		}
		if v.updelay%v.miimon != 0 {
			logf("Warning: updelay (%d) is not a multiple of miimon (%d), updelay rounded to %d ms",
				v.updelay, v.miimon, v.updelay/v.miimon*v.miimon)
		}
		v.updelay /= v.miimon
		if v.downdelay%v.miimon != 0 {
			logf("Warning: downdelay (%d) is not a multiple of miimon (%d), downdelay rounded to %d ms",
				v.downdelay, v.miimon, v.downdelay/v.miimon*v.miimon)
		}
		v.downdelay /= v.miimon
	}
	if v.arpInterval < 0 {
		logf("Warning: arp_interval module parameter (%d), not in range 0-%d, so it was reset to 0",
			v.arpInterval, math.MaxInt32)
		v.arpInterval = 0
	}
	var targets []netip.Addr
	for i := 0; i < bond.MaxArpTargets && len(targets) < bond.MaxArpTargets && v.arpIPTarget[i] != nil; i++ {
		raw := *v.arpIPTarget[i]
		ip, ok := ktext.In4pton(raw)
		if !ok || !bond.ArpTargetOK(ip) {
			logf("Warning: bad arp_ip_target module parameter (%s), ARP monitoring will not be performed", raw)
			v.arpInterval = 0
			continue
		}
		dup := false
		for _, t := range targets {
			dup = dup || t == ip
		}
		if dup {
			logf("Warning: duplicate address %s in arp_ip_target, skipping", ip)
			continue
		}
		targets = append(targets, ip)
	}
	if v.arpInterval != 0 && len(targets) == 0 {
		logf("Warning: arp_interval module parameter (%d) specified without providing an arp_ip_target parameter, arp_interval was reset to 0",
			v.arpInterval)
		v.arpInterval = 0
	}
	arpValidate := bond.ArpValidateNone
	if v.arpValidate != nil {
		if v.arpInterval == 0 {
			return fail("arp_validate requires arp_interval")
		}
		if !enum("arp_validate", v.arpValidate, &arpValidate, `Error: invalid arp_validate "%s"`) {
			return Config{}, failed
		}
	}
	arpAllTargets := 0
	if v.arpAllTargets != nil {
		a, ok := parseEnum("arp_all_targets", *v.arpAllTargets)
		if !ok {
			logf("Error: invalid arp_all_targets_value \"%s\"", *v.arpAllTargets)
		} else {
			arpAllTargets = a
		}
	}
	switch {
	case v.miimon != 0:
		logf("MII link monitoring set to %d ms", v.miimon)
	case v.arpInterval != 0:
		// The kernel prints the raw strings of the first count slots.
		var b strings.Builder
		fmt.Fprintf(&b, "ARP monitoring set to %d ms, validate %s, with %d target(s):",
			v.arpInterval, bond.ValueName("arp_validate", arpValidate), len(targets))
		for i := range targets {
			b.WriteString(" " + *v.arpIPTarget[i])
		}
		log(b.String())
	}
	primary := v.primary
	if primary != nil && !mode.UsesPrimary() {
		logf("Warning: %s primary device specified but has no effect in %s mode", *primary, bond.ModeDescription(mode))
		primary = nil
	}
	reselect := bond.ReselectAlways
	if primary != nil && v.primaryReselect != nil {
		if !enum("primary_reselect", v.primaryReselect, &reselect, `Error: Invalid primary_reselect "%s"`) {
			return Config{}, failed
		}
	}
	fom := bond.FOMNone
	if v.failOverMAC != nil {
		if !enum("fail_over_mac", v.failOverMAC, &fom, `Error: invalid fail_over_mac "%s"`) {
			return Config{}, failed
		}
		if !mode.IsActiveBackup() {
			logf("Warning: fail_over_mac only affects active-backup mode")
		}
	}
	if v.lpInterval == 0 {
		logf("Warning: ip_interval must be between 1 and %d, so it was reset to %d", math.MaxInt32, 1)
		v.lpInterval = 1
	}

	p.Mode = mode
	p.XmitPolicy = bond.XmitPolicy(xmit)
	p.Miimon = v.miimon
	p.NumPeerNotif = v.numPeerNotif
	p.ArpInterval = v.arpInterval
	p.ArpValidate = arpValidate
	p.ArpAllTargets = arpAllTargets
	p.UpDelay = v.updelay
	p.DownDelay = v.downdelay
	p.LacpRate = lacpFast
	p.PrimaryReselect = reselect
	p.FailOverMAC = fom
	p.TxQueues = v.txQueues
	p.AllSlavesActive = v.allSlavesActive
	p.ResendIGMP = v.resendIGMP
	p.MinLinks = v.minLinks
	p.LpInterval = int(int32(v.lpInterval))
	p.PacketsPerSlave = v.packetsPerSlave
	p.UseCarrier = v.useCarrier
	p.ArpTargets = targets
	if primary != nil {
		p.Primary = *primary
		if len(p.Primary) > ktext.IFNAMSIZ-1 {
			p.Primary = p.Primary[:ktext.IFNAMSIZ-1]
		}
	}
	return Config{MaxBonds: v.maxBonds, Params: p}, nil
}
