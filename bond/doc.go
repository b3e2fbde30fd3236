// Package bond is the bonding engine: the Registry of bonds (the kernel's
// per-netns bond list under RTNL), each Bond with its Slaves, the bonding
// parameters and the one option table behind every sysfs file, module option
// and configuration key (bond_options.c), and the immutable Status snapshots
// that readers (sysfs/procfs files, the data path) use without locks.
//
// Everything that changes state runs on one control goroutine per Registry,
// as the kernel serialises it under rtnl_lock. bond imports no other package
// of this module; the system it drives is reached through the Host interface.
package bond
