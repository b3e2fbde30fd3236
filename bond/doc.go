// Package bond is the bonding engine: the Registry of bonds (the kernel's
// per-netns bond list under RTNL), each Bond with its Slaves, the bonding
// parameters and the one option table behind every sysfs file, module option
// and configuration key (bond_options.c), and the immutable Status snapshots
// that readers (sysfs/procfs files, the data path) use without locks.
//
// # Goroutines
//
// Everything that changes state runs on one control goroutine per Registry,
// as the kernel serialises it under rtnl_lock: option writes
// (Registry.WriteOption, Registry.Do), link events, delayed works (Work:
// the MII monitor, the mode's Tick, works a mode makes), frames the receive
// probe hands over. The control goroutine does no blocking host I/O except
// what a write asked for (enslave, release, setting a MAC): the carrier
// read (one link dump per miimon period) and Registry.Sync read the links on their own
// goroutines and post only the results, link events are re-read on the
// subscription's goroutine, and every read carries a sequence number so an
// older read never overwrites a newer one. Registry.LoopStats measures each
// operation's queue wait and run time.
//
// The ARP monitor (arpmon.go) is one more delayed work; its route and
// address reads run on their own goroutine after each run, and its receive
// side (bond_rcv_validate) runs in the slave readers on atomics. Peer
// notification and membership reports after a failover (peers.go,
// igmp.go) list addresses and groups and send on goroutines of their own.
//
// The data path has one TAP reader per bond, which hands each frame to the
// mode's published TxSelector, and one reader per slave, which runs the
// receive probe and then delivers the frame to the TAP unless the slave is
// inactive. Neither takes a lock or allocates per frame.
//
// # Modes
//
// A bonding mode is a Mode (mode.go): hooks shaped like the kernel's
// bond_3ad.h and bond_alb.h exports, all called on the control goroutine,
// with a Control view of the bond, the only way a mode reaches it. A
// Registry makes each bond's Mode from Config.Modes (the daemon passes
// modes.Factories(): 802.3ad, balance-tlb, balance-alb) over bond's own
// balance-rr, active-backup, balance-xor and broadcast (mode_simple.go);
// a mode in neither is refused with EINVAL. Outside the hooks the engine
// tests modes only through the ModeID predicates (UsesPrimary,
// UsesARPMonitor, IsLB, CanUseXmitHash, IsActiveBackup).
//
// bond imports one package of this module, internal/ktext (the kernel's
// text scanners, shared with compat and bond/modparams); the system it
// drives is reached through the Host interface. bond/bondtest has the
// in-memory Host, a hand-driven Clock and the goroutine-leak check that the
// engine's tests and the modes' tests use.
package bond
