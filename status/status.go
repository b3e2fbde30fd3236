// Package status turns a bond.Snapshot into the views people and programs
// read: a documented JSON document (`bondingfs status --json`), a human
// summary in the spirit of `ovs-appctl bond/show` and `teamdctl state`
// (`bondingfs status`), and Prometheus metrics (`serve --metrics`).
//
// Every value comes from one snapshot, so a report is consistent in itself.
// Option values are rendered by the option table (bond.Options), so they are
// byte for byte what the sysfs files under bonding/ show.
package status

import (
	"net"

	"bondingfs/bond"
)

// SchemaVersion is the version of the JSON document. It changes only when a
// field is removed or changes meaning; new fields keep it.
const SchemaVersion = 1

// Report is the JSON document of `bondingfs status --json`.
type Report struct {
	// Schema is SchemaVersion.
	Schema int `json:"schema"`
	// Bonds are in creation order, as bonding_masters lists them.
	Bonds []Bond `json:"bonds"`
	// Journal is the daemon's crash journal (absent without one, --state
	// none); the control socket fills it in.
	Journal *Journal `json:"journal,omitempty"`
}

// Journal is the health of the daemon's crash journal. While OK is false a
// write to the mount fails (EIO, or ENOSPC for a full file system) and
// changes nothing.
type Journal struct {
	Dir string `json:"dir"`
	// OK is false from a failed write until the next successful one;
	// Error is the last failure's text.
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
	// Writes and Failures count the writes that reached the disk and those
	// that failed.
	Writes   uint64 `json:"writes"`
	Failures uint64 `json:"failures"`
	// LastWrite is when the last write reached the disk (RFC 3339; "" before).
	LastWrite string `json:"last_write,omitempty"`
}

// Bond is one bond.
type Bond struct {
	Name    string `json:"name"`
	IfIndex int    `json:"ifindex"`
	// Mode is the mode's name as bonding/mode shows it ("active-backup");
	// ModeID its number (BOND_MODE_*).
	Mode   string `json:"mode"`
	ModeID int    `json:"mode_id"`
	// Up is IFF_UP of the bond device; Carrier is the bond's carrier
	// (bonding/mii_status "up").
	Up      bool   `json:"up"`
	Carrier bool   `json:"carrier"`
	MAC     string `json:"mac"`
	MTU     int    `json:"mtu"`
	// ActiveSlave is curr_active_slave ("" when none or not applicable).
	ActiveSlave string `json:"active_slave"`
	// PrimarySlave is the enslaved primary ("" when none).
	PrimarySlave string `json:"primary_slave"`
	// Options maps every file under bonding/ to its exact text without the
	// trailing newline ("" for an empty file), as the report's reader may
	// read it (see FromSnapshot).
	Options map[string]string `json:"options"`
	Slaves  []Slave           `json:"slaves"`
	// Failovers counts changes of the active slave away from a slave (to
	// another or to none) since the bond was created.
	Failovers int `json:"failovers"`
	// DataPath is the path carrying the bond's frames: "ebpf" (the
	// in-kernel fast path) or "userspace".
	DataPath string `json:"data_path,omitempty"`
	// FastPath are the fast path's counters of the bond (as bond_get_stats
	// sums the slaves: frames the programs sent through a slave or
	// delivered from one); absent without a fast path.
	FastPath *FastPathStats `json:"fast_path,omitempty"`
	// AD is the 802.3ad state; absent outside 802.3ad.
	AD *AD `json:"ad,omitempty"`
}

// FastPathStats are a bond's counters on the in-kernel fast path: frames
// and bytes sent (tx) and delivered (rx), frames no slave could take
// (tx_dropped) or received on an inactive slave (rx_dropped), and frames
// left to the daemon or consumed by it (slow).
type FastPathStats struct {
	TxPackets uint64 `json:"tx_packets"`
	TxBytes   uint64 `json:"tx_bytes"`
	TxDropped uint64 `json:"tx_dropped"`
	RxPackets uint64 `json:"rx_packets"`
	RxBytes   uint64 `json:"rx_bytes"`
	RxDropped uint64 `json:"rx_dropped"`
	Slow      uint64 `json:"slow"`
}

// Slave is one enslaved interface.
type Slave struct {
	Name    string `json:"name"`
	IfIndex int    `json:"ifindex"`
	// MIIStatus is bonding_slave/mii_status: "up", "going down", "down",
	// "going back".
	MIIStatus string `json:"mii_status"`
	// State is bonding_slave/state: "active" or "backup".
	State            string `json:"state"`
	LinkFailureCount int    `json:"link_failure_count"`
	PermHWAddr       string `json:"perm_hwaddr"`
	QueueID          int    `json:"queue_id"`
	// SpeedMbps is the link speed in Mb/s, -1 when unknown.
	SpeedMbps int `json:"speed_mbps"`
	// Duplex is "full", "half" or "unknown".
	Duplex string `json:"duplex"`
	// RxFrames and RxBytes count frames received on the slave and
	// delivered up the bond; RxDropped those dropped because the slave is
	// inactive, RxProbed those the receive probe consumed (LACPDUs, ARP
	// monitor replies). Since the slave was enslaved; bytes without the vnet
	// header. The slave's transmit counters are the kernel's
	// (/sys/class/net/<slave>/statistics/tx_*).
	RxFrames  uint64 `json:"rx_frames"`
	RxBytes   uint64 `json:"rx_bytes"`
	RxDropped uint64 `json:"rx_dropped"`
	RxProbed  uint64 `json:"rx_probed"`
	// AD is this port's 802.3ad state; absent outside 802.3ad.
	AD *ADPort `json:"ad,omitempty"`
	// ADStats are the port's LACPDU and Marker counters; absent outside
	// 802.3ad.
	ADStats *ADPortStats `json:"ad_stats,omitempty"`
}

// AD is a bond's 802.3ad state.
type AD struct {
	SystemPriority int    `json:"system_priority"`
	SystemMAC      string `json:"system_mac"`
	// ActiveAggregator is absent while the bond has none.
	ActiveAggregator *ADAggregator `json:"active_aggregator,omitempty"`
}

// ADAggregator is the active aggregator.
type ADAggregator struct {
	ID         int    `json:"id"`
	NumPorts   int    `json:"num_ports"`
	ActorKey   int    `json:"actor_key"`
	PartnerKey int    `json:"partner_key"`
	PartnerMAC string `json:"partner_mac"`
}

// ADPort is one port's 802.3ad state (bond_procfs.c's per-slave block).
type ADPort struct {
	AggregatorID      int        `json:"aggregator_id"`
	ActorChurnState   string     `json:"actor_churn_state"`
	PartnerChurnState string     `json:"partner_churn_state"`
	ActorChurnCount   int        `json:"actor_churned_count"`
	PartnerChurnCount int        `json:"partner_churned_count"`
	Actor             ADPortInfo `json:"actor"`
	Partner           ADPortInfo `json:"partner"`
}

// ADPortStats are one port's Slow Protocols counters (bond_3ad_stats).
type ADPortStats struct {
	LACPDURx        uint64 `json:"lacpdu_rx"`
	LACPDUTx        uint64 `json:"lacpdu_tx"`
	LACPDUUnknownRx uint64 `json:"lacpdu_unknown_rx"`
	LACPDUIllegalRx uint64 `json:"lacpdu_illegal_rx"`
	MarkerRx        uint64 `json:"marker_rx"`
	MarkerTx        uint64 `json:"marker_tx"`
	MarkerRespRx    uint64 `json:"marker_response_rx"`
	MarkerRespTx    uint64 `json:"marker_response_tx"`
	MarkerUnknownRx uint64 `json:"marker_unknown_rx"`
}

// ADPortInfo is one side of a port's operational information. PortState is
// the LACP state octet (802.1AX-2014 §6.4.2.3: bit 0 LACP_Activity …
// bit 7 Expired).
type ADPortInfo struct {
	SystemPriority int    `json:"system_priority"`
	System         string `json:"system_mac"`
	Key            int    `json:"key"`
	PortPriority   int    `json:"port_priority"`
	PortNumber     int    `json:"port_number"`
	PortState      int    `json:"port_state"`
}

// FromSnapshot builds the report of every bond in snap (all bonds when names
// is empty, else those named, in snap's order) as caller c may read it: the
// 802.3ad files that the kernel shows only to CAP_NET_ADMIN (ad_actor_key,
// ad_partner_mac, …) are empty in Options without c.NetAdmin. Unknown
// names are returned in missing.
func FromSnapshot(snap *bond.Snapshot, c bond.Caller, names ...string) (r Report, missing []string) {
	r = Report{Schema: SchemaVersion, Bonds: []Bond{}}
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	if snap == nil {
		snap = &bond.Snapshot{}
	}
	for _, b := range snap.Bonds {
		if len(names) > 0 && !want[b.Name] {
			continue
		}
		delete(want, b.Name)
		r.Bonds = append(r.Bonds, fromBond(b, c))
	}
	for _, n := range names {
		if want[n] {
			missing = append(missing, n)
		}
	}
	return r, missing
}

// macString is a MAC for the JSON status: "" when there is none. It is not
// bond.FormatMAC (sysfs), which prints a missing MAC as
// 00:00:00:00:00:00 and pads or cuts it to 6 bytes.
func macString(m net.HardwareAddr) string {
	if len(m) == 0 {
		return ""
	}
	return m.String()
}

func fromBond(b *bond.BondStatus, c bond.Caller) Bond {
	out := Bond{
		Name:         b.Name,
		IfIndex:      b.Index,
		Mode:         bond.ValueName("mode", int(b.Params.Mode)),
		ModeID:       int(b.Params.Mode),
		Up:           b.Up,
		Carrier:      b.Carrier,
		MAC:          macString(b.HWAddr),
		MTU:          b.MTU,
		ActiveSlave:  b.ActiveSlave,
		PrimarySlave: b.PrimarySlave,
		Options:      map[string]string{},
		Slaves:       make([]Slave, 0, len(b.Slaves)),
		Failovers:    b.Failovers,
		DataPath:     b.DataPath,
	}
	if b.FastStats != nil {
		fs := b.FastStats()
		out.FastPath = &FastPathStats{TxPackets: fs.TxPackets, TxBytes: fs.TxBytes, TxDropped: fs.TxDropped,
			RxPackets: fs.RxPackets, RxBytes: fs.RxBytes, RxDropped: fs.RxDropped, Slow: fs.Slow}
	}
	for _, o := range bond.Options {
		if o.Show == nil {
			continue
		}
		txt := o.Show(b, c)
		if n := len(txt); n > 0 && txt[n-1] == '\n' {
			txt = txt[:n-1]
		}
		out.Options[o.Name] = txt
	}
	for i := range b.Slaves {
		out.Slaves = append(out.Slaves, fromSlave(&b.Slaves[i]))
	}
	if b.AD != nil {
		ad := &AD{SystemPriority: b.AD.SystemPriority, SystemMAC: macString(b.AD.SystemMAC)}
		if a := b.AD.ActiveAggregator; a != nil {
			ad.ActiveAggregator = &ADAggregator{ID: a.ID, NumPorts: a.NumPorts,
				ActorKey: a.ActorKey, PartnerKey: a.PartnerKey, PartnerMAC: macString(a.PartnerMAC)}
		}
		out.AD = ad
	}
	return out
}

func fromSlave(s *bond.SlaveStatus) Slave {
	out := Slave{
		Name:             s.Name,
		IfIndex:          s.Index,
		MIIStatus:        s.Link.String(),
		State:            "backup",
		LinkFailureCount: s.LinkFailureCount,
		PermHWAddr:       macString(s.PermHWAddr),
		QueueID:          s.QueueID,
		SpeedMbps:        s.Speed,
		Duplex:           duplexName(s.Duplex),
	}
	if s.Active {
		out.State = "active"
	}
	if c := s.Counters; c != nil {
		out.RxFrames, out.RxBytes, out.RxDropped, out.RxProbed = c.RxFrames(), c.RxBytes(), c.RxDropped(), c.RxProbed()
	}
	if s.Speed == bond.SpeedUnknown {
		out.SpeedMbps = -1
	}
	if a := s.AD; a != nil {
		out.AD = &ADPort{
			AggregatorID:      a.AggregatorID,
			ActorChurnState:   a.ActorChurnState,
			PartnerChurnState: a.PartnerChurnState,
			ActorChurnCount:   a.ActorChurnCount,
			PartnerChurnCount: a.PartnerChurnCount,
			Actor:             portInfo(a.Actor),
			Partner:           portInfo(a.Partner),
		}
	}
	if st := s.ADStats; st != nil {
		out.ADStats = &ADPortStats{LACPDURx: st.LACPDURx, LACPDUTx: st.LACPDUTx, LACPDUUnknownRx: st.LACPDUUnknownRx,
			LACPDUIllegalRx: st.LACPDUIllegalRx, MarkerRx: st.MarkerRx, MarkerTx: st.MarkerTx,
			MarkerRespRx: st.MarkerRespRx, MarkerRespTx: st.MarkerRespTx, MarkerUnknownRx: st.MarkerUnknownRx}
	}
	return out
}

func portInfo(p bond.ADPortInfo) ADPortInfo {
	return ADPortInfo{SystemPriority: p.SystemPriority, System: macString(p.System), Key: p.Key,
		PortPriority: p.PortPriority, PortNumber: p.PortNumber, PortState: p.PortState}
}

func duplexName(d int) string {
	switch d {
	case bond.DuplexFull:
		return "full"
	case bond.DuplexHalf:
		return "half"
	}
	return "unknown"
}
