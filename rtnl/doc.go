// Package rtnl is the rtnetlink view of bondingfs bonds: it rewrites the
// link messages the kernel delivers to a supervised process (`bondingfs
// exec`) so that a bond's TAP master and its ports look as the kernel's
// bonding driver (Linux 6.1) shows them.
//
// The library part is pure: it takes byte buffers of netlink messages and a
// bond.Snapshot, returns new buffers, and makes no system calls. The
// supervisor (rtnl/supervisor, issue 17) moves the bytes between the caller,
// the kernel and the engine.
//
// # API
//
//   - Rewrite(msgs, snap, f) returns msgs with every RTM_NEWLINK and
//     RTM_DELLINK of a bond master or port rewritten as 6.1 fills it
//     (rtnl_fill_ifinfo, bond_fill_info, bond_fill_slave_info), and the
//     RTM_NEWLINK messages the dump filter f excludes removed. Other
//     messages (NLMSG_DONE, NLMSG_ERROR, other links, addresses, ...) are
//     copied unchanged, in order. A malformed message and everything after
//     it are copied unchanged. The result may be empty when f removed every
//     message; a receive path must then read on rather than return 0.
//   - Concerns(msgs, snap) reports whether Rewrite would change anything but
//     filtering: the cheap test for the receive path's "peek, then
//     CONTINUE" shortcut.
//   - ParseDumpFilter(req) takes one RTM_GETLINK dump request (header
//     included). When it carries IFLA_MASTER or an IFLA_LINKINFO kind, it
//     returns the Filter, the request without those attributes (nlmsg_len
//     adjusted) and true; the caller forwards the stripped request and
//     passes the Filter to Rewrite for the replies. The kernel cannot apply
//     these filters itself: it knows neither the bond's ports nor the kind
//     "bond" of a TAP (rtnl_dump_ifinfo, link_dump_filtered).
//   - Changed(old, new) lists the devices whose rewritten view differs
//     between two engine snapshots (ports first, then bonds, as 6.1
//     announces an enslave), with the IFLA_EVENT each announcement carries;
//     Event(reply, snap, ev) turns the kernel's RTM_GETLINK answer for one
//     of them into that announcement (rtmsg_ifinfo's form). The kernel sends
//     none of these itself: it never saw the enslave, release, option or
//     failover.
//   - Rewrite also completes the RTM_NEWSTATS of a bond or port whose filter
//     mask asks for IFLA_STATS_LINK_XSTATS(_SLAVE) with
//     bond_fill_linkxstats' nests (the 802.3ad LACPDU and marker counters).
//
// The request side (RTM_NEWLINK/SETLINK/DELLINK of bonds) is request*.go;
// the supervisor that moves the bytes is rtnl/supervisor. rtnl/nltext
// prints link messages as text for the kernel goldens of testdata/rtnl.
//
// # What a bond looks like
//
// A bond master gets IFF_MASTER, its IFLA_OPERSTATE, IFLA_CARRIER,
// IFF_RUNNING and IFF_LOWER_UP from the engine's carrier, 16 tx/rx queues
// (tx_queues) and IFLA_LINKINFO {IFLA_INFO_KIND "bond", IFLA_INFO_DATA
// {IFLA_BOND_* in bond_fill_info's order}} in place of the TAP's "tun"
// linkinfo. A port gets IFF_SLAVE, IFLA_MASTER (placed where
// rtnl_fill_ifinfo puts it) and IFLA_LINKINFO with its own KIND/DATA kept
// and IFLA_INFO_SLAVE_KIND "bond", IFLA_INFO_SLAVE_DATA {IFLA_BOND_SLAVE_*
// in bond_fill_slave_info's order} added. Every nest is written without
// NLA_F_NESTED, as the kernel's nla_nest_start_noflag does (clients such as
// vishvananda/netlink match the type exactly).
//
// Dump filters are applied after rewriting, on the rewritten IFLA_MASTER and
// IFLA_INFO_KIND, and the surviving messages carry NLM_F_DUMP_FILTERED as
// the kernel's do.
//
// Every function is safe for concurrent use; none keeps a reference to its
// arguments.
package rtnl
