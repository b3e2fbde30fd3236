// Package lacp is IEEE 802.1AX link aggregation (802.3ad) as the Linux
// kernel's drivers/net/bonding/bond_3ad.c implements it (Linux 6.1, the
// oracle's 6.1.192): the per-port Receive, Periodic Transmission, Mux,
// Transmit and Churn Detection machines, the Selection logic with
// ad_select stable/bandwidth/count, the Marker responder, port keys from
// speed, duplex and ad_user_port_key, aggregator numbering, min_links and
// the bond's carrier (bond_3ad_set_carrier), and the LACPDU/Marker codec.
//
// The package is pure: it has no clock and does no I/O. Time advances by
// Tick, one call per AD_TIMER_INTERVAL (100 ms, TickInterval); frames come
// in through Receive and go out through Config.Transmit; log lines go to
// Config.Log as the kernel would print them; Config.Changed says what an
// adapter mirroring the state must refresh.
//
// # Mapping to the kernel
//
//	New                    one per bond, kept across mode changes (struct ad_bond_info)
//	Open / Close           bond_open / bond_close in 802.3ad mode
//	AddPort / RemovePort   bond_enslave / __bond_release_one: 3ad bind/unbind, slave flags, carrier
//	LinkChange             bond_miimon_commit's link up/down + bond_3ad_handle_link_change
//	SpeedDuplexChanged     bond_3ad_adapter_speed_duplex_changed
//	SetLink                a slave field change with no 3ad action (BOND_LINK_FAIL/BACK, carrier)
//	Tick                   bond_3ad_state_machine_handler
//	Receive                bond_3ad_lacpdu_recv (the bond's recv_probe)
//	Set* options           bond_3ad_update_lacp_rate, _update_lacp_active,
//	                       _update_ad_actor_settings, bond_option_min_links_set, …
//	ActiveAggregator       __bond_3ad_get_active_agg_info
//	DistributingPorts      bond_update_slave_arr's usable slaves
//	Carrier                netif_carrier_ok(bond) as bond_3ad_set_carrier leaves it
//	Status / Port          what bond_procfs.c and bond_sysfs*.c print
//
// # Adapter contract
//
// A System is not safe for concurrent use. The adapter calls every method
// from one goroutine, or holds one mutex around every call, as the kernel
// holds mode_lock/RTNL. Tick must run every 100 ms of wall time while the
// bond is open, independently of the data path and of the control
// goroutine, so that a busy bond never lets a fast partner expire (3 s):
// run it on a dedicated goroutine with its own timer.
//
// The callbacks run synchronously inside the method that causes them
// (Transmit inside Tick, Receive or RemovePort; Log anywhere; Changed once,
// at the end of the method) and must not call back into the System. The
// frame passed to Transmit is valid only during the call; copy it or send
// it before returning. Frames are sent from the port's permanent MAC to
// 01:80:c2:00:00:02, as the kernel sends them.
//
// After a call reports ChangeSlaveArray, ChangePortFlags or ChangeCarrier,
// the adapter reads DistributingPorts, PortFlags/Status and Carrier and
// publishes them (TX table, bonding_slave/state, TUNSETCARRIER). Received
// frames go to Receive first on every port, active or not; a frame it
// consumes is not delivered, and other frames of a port whose PortFlags
// say inactive are dropped (bond_should_deliver_exact_match).
//
// Ordering follows the kernel: ports are kept in enslave order, which
// decides the first aggregator, the order the machines run in and the
// aggregator a port joins. The adapter adds and removes ports in the
// bond's slave order and reports link changes in the MII monitor's order.
//
// The bond's MAC must be current (Config.BondMAC, SetBondMAC) before the
// first AddPort: like bond_enslave, which gives the bond its first slave's
// address before bond_3ad_initialize reads it, the adapter sets it first.
//
// # Passive ports (lacp_active off)
//
// In Linux 6.1 a passive port never runs its periodic timer, but it still
// sends an LACPDU whenever its own state changes (NTT from the Mux and
// Receive machines), so a passive bond sends two LACPDUs when it comes up
// without partner, two passive bonds do aggregate, and then drop out of
// Collecting_Distributing at every short timeout (3 s with lacp_rate
// fast). This package does the same; testdata/kernel-*.txt hold captures of
// the real 6.1.192 driver (no partner, passive against passive, active
// against passive, active against active) that the tests replay.
//
// # Differences from the kernel
//
// Log events carry RateLimited/Once marks instead of applying the kernel's
// net_ratelimit() and printk_once budgets, which need a clock and are
// module-wide. Debug lines (netdev_dbg/slave_dbg) are not produced.
// States the kernel can only reach through a bug (an uninitialised port)
// cannot be represented and their warnings are never emitted.
package lacp
