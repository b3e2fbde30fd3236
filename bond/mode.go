package bond

import (
	"fmt"
	"net"
	"time"
)

// The mode seam. A bonding mode's behaviour lives behind Mode, one hook per
// export of the kernel's bond_3ad.h and bond_alb.h; the engine (enslave,
// release, the MII monitor, active slave selection, option setters, the data
// path) reaches mode-specific code only through these hooks and the ModeID
// predicates. Who calls what, on which goroutine:
//
//	hook            called by (kernel counterpart)                         goroutine
//	ModeFactory(c)  mode selected: bond created, mode option set           control
//	Open            bond set up (bond_open)                                control
//	Close           bond set down, deleted, mode changed (bond_close)     control
//	Bind/Unbind     Enslave / release (bond_3ad_bind_slave, …_unbind_…)   control
//	LinkChanged     MII monitor commit, slave up/down (…_handle_link_change) control
//	ActiveChanged   curr_active_slave changed (bond_change_active_slave)   control
//	OptionChanged   a successful option write (bond_opt_set → update_*)    control
//	Tick            the mode's own delayed work (ad_work, alb_work)        control
//	Recv            the receive probe handed a frame over (recv_probe)     control
//	Carrier         bond_set_carrier (bond_3ad_set_carrier, min_links)     control
//	Tx              after any change of slaves, links, active, options     control
//	TxSelector.Xmit every frame the bond device sends (bond_start_xmit)   TAP reader
//	Status          each snapshot (the mode's /proc and sysfs part)       control
//
// The optional hooks are MACChanger, DevStateNotifier and
// SpeedDuplexNotifier. A mode reaches the bond only through Control.
//
// Modes are handed in: a Registry makes each bond's Mode from
// Config.Modes, over bond's own balance-rr, active-backup, balance-xor and
// broadcast (mode_simple.go, as bond_main.c has them); the daemon passes
// modes.Factories() (802.3ad, balance-tlb, balance-alb). A mode that
// neither provides is not configured: writing it to the mode option fails
// with EINVAL ("option mode: invalid value"), and creating a bond whose
// default mode it is fails with EINVAL, so a daemon built without a mode
// says so instead of running a bond in a mode that does nothing.

// A Mode is one bond's instance of a bonding mode. Every method runs on the
// control goroutine except the TxSelector's Xmit; none may block on the host
// (use Control.Send, which only queues a frame on a socket).
type Mode interface {
	// Open starts the mode when the bond goes up (bond_open:
	// bond_3ad_initialize, bond_alb_initialize): set the slaves' active
	// flags, queue the mode's work (Control.NewWork), set the receive probe
	// (Control.SetRecvProbe). An error is logged; the bond stays up.
	Open() error
	// Close stops the mode when the bond goes down or is deleted, or the
	// mode is changed (bond_close). The engine cancels every work of the
	// bond (bond_work_cancel_all) and clears the receive probe after it.
	Close()
	// Bind adopts a new slave (bond_enslave's per-mode switch,
	// bond_3ad_bind_slave, bond_alb_init_slave): its initial active/backup
	// flags and, for modes without a primary, curr_active_slave. An error
	// fails the enslave with its errno.
	Bind(s *Slave) error
	// Unbind forgets a slave being released (bond_3ad_unbind_slave,
	// bond_alb_deinit_slave); s is still in Control.Slaves, except in
	// balance-tlb/alb, where it is called as bond_alb_deinit_slave is: after
	// s left Control.Slaves and, if it was curr_active_slave, after
	// ChangeActiveSlave(nil), before a new active slave is selected.
	Unbind(s *Slave)
	// LinkChanged reports that the MII monitor committed a new link state
	// for s (s.Link() is LinkUp or LinkDown; bond_miimon_commit with
	// bond_3ad_handle_link_change / bond_alb_handle_link_change).
	LinkChanged(s *Slave)
	// ActiveChanged reports that curr_active_slave went from old to new
	// (either may be nil; bond_change_active_slave,
	// bond_alb_handle_active_change).
	ActiveChanged(old, new *Slave)
	// OptionChanged reports a successful write of the option named name
	// (bond_3ad_update_lacp_rate, bond_3ad_update_ad_actor_settings, …).
	OptionChanged(name string)
	// Tick runs the mode's periodic work and returns the delay until the
	// next run, 0 to stop (ad_work: 100 ms; alb_work: 100 ms). The engine
	// calls it first right after Open.
	Tick() time.Duration
	// Recv handles a frame the receive probe handed over from slave s: an
	// Ethernet frame without vnet header, valid only during the call.
	Recv(s *Slave, frame []byte)
	// Carrier decides the bond's carrier (bond_3ad_set_carrier with
	// min_links); decided=false leaves it to the engine's rule (on when any
	// slave's link is up).
	Carrier() (on, decided bool)
	// Tx builds the transmit selector for the bond's current state; the
	// engine publishes it atomically and the TAP reader calls its Xmit for
	// every frame.
	Tx(v TxView) TxSelector
	// Status fills the mode's part of a snapshot (BondStatus.AD,
	// SlaveStatus.AD, …); st.Slaves is in Control.Slaves order.
	Status(st *BondStatus)
}

// A TxSelector sends one frame from the bond device (bond_start_xmit's
// per-mode branch). Xmit runs on the TAP reader for every frame: it must
// not allocate, lock or block beyond the device's WriteFrame, and must not
// touch mode state other than atomics the mode owns (round-robin counter),
// or state under the mode's own short lock (balance-tlb/alb's tables, the
// kernel's mode_lock). A frame no slave can take is dropped, as the kernel drops it.
type TxSelector interface {
	Xmit(frame []byte) // vnet header + Ethernet frame
}

// TxView is what a mode's Tx sees: the bond's transmit state at one moment.
type TxView struct {
	// Usable are the slaves that can transmit (bond_slave_can_tx: device up,
	// link up, active), in slave order, and their devices (same index).
	Usable     []*Slave
	UsableDevs []SlaveDev
	// Active is curr_active_slave's device if it can transmit (device and
	// link up), else nil.
	Active SlaveDev
	Params *Params // read only; do not keep
}

// Control is the narrow view of a bond that a mode uses; *Bond implements it.
// Every method must be called on the control goroutine, except Clock and
// Post.
type Control interface {
	// Name is the bond's interface name; Params its parameters (read only).
	Name() string
	Params() *Params
	// HWAddr is the bond device's MAC address.
	HWAddr() net.HardwareAddr
	// Slaves are the slaves in enslave order (do not modify the slice).
	Slaves() []*Slave
	// ActiveSlave is curr_active_slave, or nil.
	ActiveSlave() *Slave
	// ChangeActiveSlave makes s (or nil) curr_active_slave with the
	// engine's bookkeeping (bond_change_active_slave; calls
	// Mode.ActiveChanged), without the reselection rules.
	ChangeActiveSlave(s *Slave)
	// SetSlaveActive / SetSlaveInactive set a slave's active and inactive
	// flags (bond_set_slave_active_flags, bond_set_slave_inactive_flags:
	// an inactive slave's received frames are dropped after the receive
	// probe unless all_slaves_active). SetSlaveBackup clears only the active
	// flag (bond_set_backup_slave).
	SetSlaveActive(s *Slave)
	SetSlaveInactive(s *Slave)
	SetSlaveBackup(s *Slave)
	// SetSlaveRx sets the receive rules of balance-tlb/alb slaves, which
	// have MACs of their own (see Bond.SetSlaveRx).
	SetSlaveRx(s *Slave, local, master net.HardwareAddr, unicast bool)
	// SetSlaveMAC sets a slave's MAC address on the host (dev_set_mac_address).
	SetSlaveMAC(s *Slave, mac net.HardwareAddr) error
	// Send queues one frame (vnet header + Ethernet frame carrying its own
	// source MAC) on slave s's socket: LACPDUs, learning packets, ARP
	// replies. The frame may be reused after the call returns.
	Send(s *Slave, frame []byte) error
	// TxChanged rebuilds and publishes the transmit selector (call after
	// the mode's own transmit state changed).
	TxChanged()
	// CarrierChanged reruns the carrier decision (bond_set_carrier).
	CarrierChanged()
	// SetRecvProbe sets the frame classes the receive probe hands to
	// Mode.Recv (0 = none; the engine clears it after Close). Slow-protocol
	// frames (FrameSlow) handed over are consumed: they never reach the bond
	// device.
	SetRecvProbe(classes FrameClass)
	// NewWork returns a delayed work that runs fn on the control goroutine
	// (INIT_DELAYED_WORK); the engine cancels it with the bond's other works
	// on close (bond_work_cancel_all). Make each work once (in the factory
	// or the first Open) and queue it again on later Opens: the bond keeps
	// every work made until the mode is changed.
	NewWork(fn func()) *Work
	// Now is the bond's clock (Config.Clock; tests drive it by hand).
	Now() time.Time
	// Clock is that clock itself, for a mode that keeps timers of its own
	// off the control goroutine (802.3ad's ad_work); any goroutine.
	Clock() Clock
	// Post runs fn on the control goroutine and returns once it has run
	// (nil), or returns ErrClosed without running it when the registry is
	// closed first. It is for other goroutines (a mode's own timer, a
	// slave reader) and waits for the control goroutine, so a goroutine
	// that must not wait calls it from a goroutine of its own; calling it
	// on the control goroutine deadlocks. A snapshot is published after fn
	// if it changed the state.
	Post(fn func()) error
	// SetRecvDirect makes the receive probe hand the frames of the classes
	// set with SetRecvProbe to fn on the slave's reader goroutine, as the
	// kernel runs recv_probe in softirq, instead of queueing them for
	// Mode.Recv (nil restores the queue). fn must not block or keep frame,
	// and must tolerate slaves it no longer knows (a reader may still
	// deliver a frame after Unbind).
	SetRecvDirect(fn func(s *Slave, frame []byte))
	// StatusChanged marks the bond's state changed: a new snapshot is
	// published after the current operation (for a mode whose Status
	// changed outside the engine's own calls).
	StatusChanged()
	// Logf and SlaveLogf write kernel log lines ("bond0: …",
	// "bond0: (slave eth0): …").
	Logf(format string, args ...any)
	SlaveLogf(slave string, format string, args ...any)
	// KernLogf writes a kernel log line without the bond's prefix, for
	// the core's messages a mode causes ("device eth1 entered promiscuous
	// mode", net/core/dev.c).
	KernLogf(format string, args ...any)
}

// A MACChanger is a Mode that gives the slaves the bond's new MAC itself
// when the bond device's address is changed (bond_set_mac_address calls
// bond_alb_set_mac_address in balance-alb); other modes get the engine's
// rule, every slave set to the new address. BondMACChanged runs on the
// control goroutine after Control.HWAddr has the new address.
type MACChanger interface {
	BondMACChanged()
}

// DevStateNotifier is an optional Mode hook: DevStateChanged runs on the
// control goroutine when a slave's admin state or carrier (Slave.DevUp,
// Slave.Carrier) changes, before the MII monitor commits anything (the
// fields bond_slave_is_up reads; 802.3ad's aggregator selection reads them
// on its own tick). It is also called for a slave being enslaved before
// Bind; a mode ignores slaves it has not bound.
type DevStateNotifier interface {
	DevStateChanged(s *Slave)
}

// SpeedDuplexNotifier is an optional Mode hook: SpeedDuplexChanged runs on
// the control goroutine when a link event brought a new speed or duplex for
// a slave whose link is up, after Slave.Speed has it (NETDEV_CHANGE:
// bond_update_speed_duplex, then bond_3ad_adapter_speed_duplex_changed in
// 802.3ad). A slave not yet up takes its speed at the MII monitor's link-up
// commit, before LinkChanged.
type SpeedDuplexNotifier interface {
	SpeedDuplexChanged(s *Slave)
}

// ModeFactory makes a bond's Mode instance; c is the bond it serves.
type ModeFactory func(c Control) Mode

// simpleModes are bond_main.c's own modes (mode_simple.go). They are made
// from the *Bond itself: they set curr_active_slave without the
// engine's bookkeeping, apply fail_over_mac and notify peers, which a mode
// outside bond does not do.
var simpleModes = map[ModeID]func(b *Bond) Mode{
	ModeRoundRobin:   func(b *Bond) Mode { return &rrMode{allActive: allActive{b: b}} },
	ModeActiveBackup: func(b *Bond) Mode { return &abMode{b: b} },
	ModeXOR:          func(b *Bond) Mode { return &xorMode{allActive{b: b}} },
	ModeBroadcast:    func(b *Bond) Mode { return &bcastMode{allActive{b: b}} },
}

// checkModes panics if modes names a mode the option table does not know
// or has a nil factory (NewRegistry: a programming error, not a user's).
func checkModes(modes map[ModeID]ModeFactory) {
	for id, f := range modes {
		known := false
		for _, v := range modeValues {
			known = known || ModeID(v.Value) == id
		}
		if !known || f == nil {
			panic(fmt.Sprintf("bond: Config.Modes[%d]: no such mode", int(id)))
		}
	}
}

// modeConfigured reports whether the registry can make mode id: from
// Config.Modes or bond's own.
func (r *Registry) modeConfigured(id ModeID) bool {
	_, handed := r.cfg.Modes[id]
	_, own := simpleModes[id]
	return handed || own
}

// newMode makes the Mode of id for b: Config.Modes first, then bond's own.
// Callers have checked modeConfigured (createBond, setMode).
func (r *Registry) newMode(id ModeID, b *Bond) Mode {
	if f, ok := r.cfg.Modes[id]; ok {
		return f(b)
	}
	if f, ok := simpleModes[id]; ok {
		return f(b)
	}
	panic(fmt.Sprintf("bond: mode %s not configured", id))
}

// ModeBase is a Mode with no behaviour, to embed in implementations that
// need only some hooks: every hook does nothing, Carrier leaves the decision
// to the engine, Tx drops every frame.
type ModeBase struct{}

func (ModeBase) Open() error                 { return nil }
func (ModeBase) Close()                      {}
func (ModeBase) Bind(*Slave) error           { return nil }
func (ModeBase) Unbind(*Slave)               {}
func (ModeBase) LinkChanged(*Slave)          {}
func (ModeBase) ActiveChanged(_, _ *Slave)   {}
func (ModeBase) OptionChanged(string)        {}
func (ModeBase) Tick() time.Duration         { return 0 }
func (ModeBase) Recv(*Slave, []byte)         {}
func (ModeBase) Carrier() (on, decided bool) { return false, false }
func (ModeBase) Tx(TxView) TxSelector        { return dropTx{} }
func (ModeBase) Status(*BondStatus)          {}

// dropTx drops every frame.
type dropTx struct{}

func (dropTx) Xmit([]byte) {}
