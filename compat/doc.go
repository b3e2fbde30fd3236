// Package compat reads the legacy bonding configuration of the Linux
// distributions and turns it into the sysfs writes their network scripts
// would make, so that bondingfs can create and configure the same bonds
// (`bondingfs serve --config`) or report what it would do
// (`bondingfs check-config`).
//
// # Formats
//
//   - modprobe.d / modprobe.conf / modules.conf (modprobe.go):
//     `options bonding k=v …` (module-wide), the old per-instance style
//     `alias bond0 bonding` + `options bond0 [-o name] k=v …`, and
//     `install bond1 /sbin/modprobe --ignore-install bonding -o bond1 k=v …`
//     (bonding.txt 2007 §3.2 and §3.3.1, the 2.4-era HOWTO §3 and §4 in
//     ../shared/seeds).
//   - Red Hat initscripts ifcfg-* (ifcfg.go): DEVICE=, BONDING_OPTS=,
//     MASTER=/SLAVE= on the slaves (network-scripts/network-functions
//     install_bonding_driver, network-scripts/ifup-eth, bonding.txt §3.2).
//   - SUSE sysconfig ifcfg-bondX (sysconfig.go): BONDING_MASTER='yes',
//     BONDING_MODULE_OPTS, BONDING_SLAVEn / BONDING_SLAVE_n (ifcfg-bonding(5),
//     bonding.txt §3.1).
//   - Debian /etc/network/interfaces (interfaces.go): bond-* / bond_* keys in
//     iface stanzas, bond-slaves / slaves, bond-master on slave stanzas, and
//     `up ifenslave bond0 eth0 eth1` lines (ifenslave's ifupdown hooks and its
//     README.Debian, seed 004).
//
// # Output
//
// Every format gives one ordered list of Settings per bond (BondPlan). A
// Setting names a bond and a file under /sys/class/net/<bond>/bonding/
// (Key) with the exact text that would be echoed into it (Value); the
// pseudo key "+bond" stands for
// `echo +<bond> > /sys/class/net/bonding_masters`. Settings with an empty
// Bond are module options (`options bonding …`), applied when the module is
// loaded rather than written to sysfs.
//
// The order is the one RHEL initscripts use (install_bonding_driver, then
// ifup-eth): the bond is created; "mode" and "miimon" are written first (in
// the order they are given); then every other option in the order given,
// arp_ip_target as one "+a.b.c.d" write per target; then the slaves
// ("+eth0"); then "primary". Every format is normalised to this order. One
// deliberate deviation: queue_id and active_slave name an enslaved
// interface, and the kernel refuses them before it is enslaved, so they are
// written after the slaves (before primary) rather than with the other
// options.
//
// Values are checked against the option table of package bond (see
// Validator); unknown keys and invalid values are errors that carry the
// file and line (ParseError).
package compat
