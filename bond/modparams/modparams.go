// Package modparams parses bonding.ko's module parameters
// (`modprobe bonding max_bonds=2 mode=active-backup …`) as kernel/params.c
// parse_args does and checks them as bond_main.c bond_check_params does in
// the Debian 6.1 kernel, giving the defaults of every bond
// (bond.Config.Defaults) and the number of bonds to create.
package modparams

import (
	"fmt"
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
	arpIPTarget                                                    [bond.MaxARPTargets]*string
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
		if len(items) > bond.MaxARPTargets {
			log(fmt.Sprintf("%s: can only take %d arguments", p.name, bond.MaxARPTargets))
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
